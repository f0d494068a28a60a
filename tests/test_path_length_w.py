"""Path length w.r.t. w for a :class:`ganzoo.MappedGenerator`, and w.r.t. z for every other generator.

A linear mapping ``ws_i = A_i z`` and a linear synthesis ``img = sum_i S_i^T ws_i``
have the Jacobian d img / d ws_i = S_i^T in closed form, so StyleGAN2's length
``sqrt(mean_i ||S_i y||^2)`` can be computed without autograd and compared with
what the GAN task's recipe hands the ``path-length`` regulariser.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from ganzoo import AdversarialRecipe, LatentGenerator, Latents, LossSet, MappedGenerator, conforms
from ganzoo.plugin.registry import Registries
from ganzoo_gan.tasks import Unconditional
from ganzoo_losses.regularizers import PathLength
from tests.helpers import fit_quiet

B, Z, N, W, SHAPE = 4, 3, 5, 2, (2, 3, 4)


class LinearMapped(nn.Module):
    """``mapping(z)_i = A_i z`` (B, N, W); ``synthesis(ws) = sum_i ws_i S_i`` reshaped to (B, C, H, W)."""

    latent_dim = Z

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.randn(N, W, Z, dtype=torch.float64))
        self.s = nn.Parameter(torch.randn(N, W, math.prod(SHAPE), dtype=torch.float64))

    def mapping(self, z: Tensor) -> Tensor:
        return torch.einsum("nwz,bz->bnw", self.a, z)  # (B, N, W)

    def synthesis(self, ws: Tensor) -> Tensor:
        return torch.einsum("bnw,nwp->bp", ws, self.s).view(ws.shape[0], *SHAPE)  # (B, C, H, W)

    def forward(self, z: Tensor) -> Tensor:
        return self.synthesis(self.mapping(z))


class StubCtx:
    """The few StepContext members the recipe's G phases use; each update back-propagates its loss."""

    def __init__(self, step: int) -> None:
        self.step = step
        self.terms: dict[str, dict[str, Tensor]] = {}

    def grad_scale(self, network: str) -> float:
        return 1.0

    def optimize(self, network: str, loss_fn: Any, *, phase: str) -> bool:
        loss, terms = loss_fn()
        loss.backward()
        self.terms[phase] = terms
        return True


def _noise(seed: int) -> Tensor:
    torch.manual_seed(seed)
    return torch.randn(B, *SHAPE, dtype=torch.float64).flatten(1) / math.sqrt(SHAPE[1] * SHAPE[2])  # (B, P): y / sqrt(H W)


def _w_lengths(g: LinearMapped, y: Tensor) -> Tensor:
    """sqrt(mean_i ||S_i y||^2) per sample, from the closed-form Jacobian (no autograd)."""
    s = g.s.detach()
    per_w = torch.stack([(y @ s[i].T).square().sum(1) for i in range(N)], dim=1)  # (B, N): ||J_i^T y||^2
    return per_w.mean(1).sqrt()  # (B,)


def _z_lengths(g: LinearMapped, y: Tensor) -> Tensor:
    """||J_z^T y|| with J_z^T = sum_i A_i^T S_i."""
    jt = sum(g.a.detach()[i].T @ g.s.detach()[i] for i in range(N))  # (Z, P)
    return torch.linalg.vector_norm(y @ jt.T, dim=1)  # (B,)


def test_the_linear_generator_satisfies_the_protocol() -> None:
    g = LinearMapped()
    assert conforms(g, MappedGenerator) and conforms(g, LatentGenerator)
    assert not conforms(nn.Linear(2, 2), MappedGenerator)


def test_w_path_length_equals_the_closed_form() -> None:
    torch.manual_seed(0)
    g = LinearMapped()
    reg = PathLength(pl_weight=2.0, decay=0.01, interval=1)
    a = torch.zeros((), dtype=torch.float64)
    for seed in (5, 6):  # two calls: a is a running mean
        ws = g.mapping(torch.randn(B, Z, dtype=torch.float64))  # (B, N, W), in the graph, not a leaf
        torch.manual_seed(seed)
        penalty = reg(g.synthesis, ws, g.synthesis(ws))
        lengths = _w_lengths(g, _noise(seed))
        a = a + 0.01 * (lengths.mean() - a)
        assert reg.pl_mean.item() == pytest.approx(a.item(), rel=1e-12)
        assert penalty.item() == pytest.approx((2.0 * (lengths - a).square().mean()).item(), rel=1e-10)
    penalty.backward()  # create_graph: the penalty trains the synthesis (J^T y = S_i y does not depend on A here)
    assert g.s.grad is not None and g.s.grad.abs().sum() > 0 and g.a.grad is None


def test_the_task_hands_path_length_ws_on_a_mapped_generator_and_z_otherwise() -> None:
    torch.manual_seed(1)
    g = LinearMapped()
    task = Unconditional(SimpleNamespace(augment="", truncation=1.0))
    reg = PathLength(pl_weight=1.0, decay=0.5, interval=2)
    recipe = AdversarialRecipe(LossSet(adversarial=None, regularizers=[("path-length", reg, 1.0)]), latents=True)
    z = torch.randn(B, Z, dtype=torch.float64)
    ctx = StubCtx(step=1)  # step 2 of a run: the interval-2 G_reg update is due
    halves = task.style_path(g, None)
    assert halves is not None
    mapped: list[Tensor] = []
    z_new = torch.randn(B, Z, dtype=torch.float64)

    def mapping(z: Tensor) -> Tensor:
        mapped.append(z)
        return halves[0](z)

    latents = Latents(z=z, generate=g, mapping=mapping, synthesis=halves[1], fresh=lambda: z_new)
    torch.manual_seed(7)  # the recipe draws path length's y from the global RNG first thing
    recipe.latent_generator_phase(ctx, latents, lambda fake, terms: fake.sum() * 0)  # type: ignore[arg-type]
    expected_w, expected_z = _w_lengths(g, _noise(7)), _z_lengths(g, _noise(7))
    a = 0.5 * expected_w.mean()
    assert ctx.terms["G_reg"]["path-length"].item() == pytest.approx((expected_w - a).square().mean().item(), rel=1e-10)
    assert not torch.allclose(expected_w, expected_z)  # w and z give different lengths here: the test tells them apart
    assert len(mapped) == 1 and mapped[0] is z_new  # the lazy pass mapped a fresh draw, as StyleGAN2's Gpl phase
    # Without the split (a plain generator, or DDP) the same recipe measures w.r.t. z, as before.
    g.zero_grad()
    reg_z = PathLength(pl_weight=1.0, decay=0.5, interval=2)
    recipe_z = AdversarialRecipe(LossSet(adversarial=None, regularizers=[("path-length", reg_z, 1.0)]), latents=True)
    torch.manual_seed(7)
    recipe_z.latent_generator_phase(ctx, Latents(z=z, generate=g), lambda fake, terms: fake.sum() * 0)  # type: ignore[arg-type]
    a = 0.5 * expected_z.mean()
    assert ctx.terms["G_reg"]["path-length"].item() == pytest.approx((expected_z - a).square().mean().item(), rel=1e-10)
    assert task.style_path(nn.Linear(2, 2), None) is None


def test_under_ddp_the_task_keeps_path_length_on_z(monkeypatch: pytest.MonkeyPatch) -> None:
    """Calling mapping and synthesis directly would bypass DDP's gradient hooks, so a DDP run gets no w path."""
    import torch.distributed as dist

    task = Unconditional(SimpleNamespace(augment="", truncation=1.0))
    assert task.style_path(LinearMapped(), None) is not None
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda group=None: 2)
    assert task.style_path(LinearMapped(), None) is None


def test_an_every_step_penalty_on_ws_shares_the_objective_s_graph() -> None:
    torch.manual_seed(2)
    g = LinearMapped()
    task = Unconditional(SimpleNamespace(augment="", truncation=1.0))
    reg = PathLength(pl_weight=1.0, decay=1.0, interval=1)  # decay 1: a is this batch's mean
    recipe = AdversarialRecipe(LossSet(adversarial=None, regularizers=[("path-length", reg, 1.0)]), latents=True)
    seen: list[Tensor] = []
    ctx = StubCtx(step=0)
    halves = task.style_path(g, None)
    assert halves is not None
    latents = Latents(z=torch.randn(B, Z, dtype=torch.float64), generate=g, mapping=halves[0], synthesis=halves[1])
    torch.manual_seed(3)
    recipe.latent_generator_phase(ctx, latents, lambda fake, terms: seen.append(fake) or fake.sum() * 0)  # type: ignore[arg-type, func-returns-value]
    expected = _w_lengths(g, _noise(3))
    assert ctx.terms["G"]["path-length"].item() == pytest.approx((expected - expected.mean()).square().mean().item(), rel=1e-10)
    torch.testing.assert_close(seen[0], g(latents.z))  # the objective saw synthesis(mapping(z))


def test_the_conditional_task_maps_with_the_labels() -> None:
    from ganzoo_gan.tasks import Conditional

    class CondMapped(LinearMapped):
        num_classes = 3

        def mapping(self, z: Tensor, y: Tensor | None = None) -> Tensor:  # type: ignore[override]
            assert y is not None
            return super().mapping(z) * (1.0 + y[:, None, None])  # (B, N, W): a class-dependent scale

        def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:  # type: ignore[override]
            return self.synthesis(self.mapping(z, y))

    g = CondMapped()
    y = torch.tensor([0, 1, 2, 1])
    halves = Conditional(SimpleNamespace(augment="", truncation=1.0)).style_path(g, y)
    assert halves is not None
    z = torch.randn(B, Z, dtype=torch.float64)
    torch.testing.assert_close(halves[1](halves[0](z)), g(z, y), rtol=0, atol=0)


def test_latents_need_both_halves() -> None:
    g = LinearMapped()
    with pytest.raises(ValueError, match="both mapping and synthesis"):
        Latents(z=torch.zeros(1, Z), generate=g, mapping=g.mapping)


def test_path_length_refuses_latents_of_another_rank() -> None:
    x = torch.randn(2, 1, 1, 3, 4, requires_grad=True)
    with pytest.raises(ValueError, match="z \\(B, Z\\) or ws"):
        PathLength()(lambda v: v.sum(1), x, x.sum(1))


def test_a_dcgan_run_still_measures_path_length_on_a_z_leaf(
    tiny_spec: dict[str, Any], registries: Registries, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[tuple[int, ...], bool]] = []
    call = PathLength.__call__

    def spy(self: PathLength, generator: Any, latents: Tensor, fake: Tensor, **kw: Any) -> Tensor:
        seen.append((tuple(latents.shape), latents.is_leaf and latents.requires_grad))
        return call(self, generator, latents, fake, **kw)

    monkeypatch.setattr(PathLength, "__call__", spy)
    tiny_spec["losses"]["regularizers"] = [{"type": "path-length", "params": {"interval": 1}}]
    tiny_spec["train"].update(steps=2, sample_every=0, checkpoint_every=0, tensorboard=False)
    run = fit_quiet(tiny_spec, registries, tmp_path)
    assert run.step == 2 and seen == [((8, 8), True)] * 2  # (B, latent_dim) z, a leaf with grad, as before
