"""Regulariser phases: the fp16 input-gradient recipe, G-phase regularisers and path length.

fp16 autocast needs CUDA here (``check_precision`` refuses it on the CPU), so the
recipe's arithmetic is tested directly: a huge ``grad_scale`` must not change a
float32 penalty, and with half tensors it must rescue gradients that underflow.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
import yaml
from torch import Tensor, nn

from ganzoo import AdversarialRecipe, ConfigError, LossEntry, LossSet, NoParams, hookimpl
from ganzoo.api import resume_spec, train
from ganzoo.checkpoint import list_checkpoints, load_checkpoint
from ganzoo.plugin.manager import get_plugin_manager
from ganzoo.plugin.registry import Registries, collect, load_registries
from ganzoo.spec.model import validate_spec
from ganzoo.engine.run import Run

from tests.helpers import assert_same_nets, fit_quiet, last_checkpoint, train_records
from ganzoo_losses.adversarial import NonSaturating
from ganzoo_losses.regularizers import R1, PathLength, _fp16_factor

REG = load_registries()
D_REGULARIZERS = ["gradient-penalty", "r1"]


def _conv_d() -> nn.Module:
    torch.manual_seed(4)
    return nn.Sequential(nn.Conv2d(3, 4, 3, 2, 1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(64, 1), nn.Flatten(0))


class LinearG(nn.Module):
    """G(z) = z W reshaped to (B, C, H, W): its Jacobian is W^T for every z."""

    def __init__(self, latent: int, shape: tuple[int, int, int], dtype: torch.dtype = torch.float64, scale: float = 1.0) -> None:
        super().__init__()
        self.shape = shape
        self.w = nn.Parameter(torch.randn(latent, math.prod(shape), dtype=dtype) * scale)

    def forward(self, z: Tensor) -> Tensor:
        return (z @ self.w).view(z.shape[0], *self.shape)  # (B, C, H, W)


# ------------------------------------------------------------------ fp16 recipe


def test_fp16_factor_is_a_power_of_two_per_sample_share() -> None:
    assert _fp16_factor(1.0, 8) == 1.0  # fp32/bf16: arithmetic unchanged
    assert _fp16_factor(2.0**16, 4) == 2.0**14
    assert _fp16_factor(2.0**16, 6) == 2.0**13  # 65536 / 6 = 10923 -> 2^13, exact to scale by
    assert _fp16_factor(2.0**16, 2**20) == 1.0  # never scales down


@pytest.mark.parametrize("name", D_REGULARIZERS)
def test_grad_scale_leaves_a_float32_penalty_unchanged(name: str) -> None:
    D, reg = _conv_d(), REG.build("loss", name, {})
    real, fake = torch.randn(4, 3, 8, 8), torch.randn(4, 3, 8, 8)
    results = []
    for scale in (1.0, 2.0**16):
        torch.manual_seed(5)  # the same interpolates for the gradient penalty
        penalty = reg(D, real, fake, grad_scale=scale)
        grads = torch.autograd.grad(penalty, [p for n, p in D.named_parameters() if n.endswith("weight")])
        results.append((penalty, grads))
    (p1, g1), (p2, g2) = results
    assert p1.dtype == torch.float32 and torch.allclose(p1, p2, rtol=1e-6, atol=0)
    assert all(torch.allclose(a, b, rtol=1e-5, atol=1e-12) for a, b in zip(g1, g2))


def _tiny_d(x: Tensor) -> Tensor:
    # d D / d x = 1e-8 per element: below fp16's smallest subnormal (6e-8), so it underflows unscaled.
    return (x * 1e-4 * 1e-4).flatten(1).sum(1)  # (B,)


@pytest.mark.parametrize("name", D_REGULARIZERS)
def test_grad_scale_rescues_underflowing_fp16_gradients(name: str) -> None:
    reg = REG.build("loss", name, {})
    real, fake = torch.randn(4, 3, 8, 8).half(), torch.randn(4, 3, 8, 8).half()
    try:
        torch.manual_seed(6)
        unscaled = reg(_tiny_d, real, fake)
    except RuntimeError as exc:  # pragma: no cover - depends on the CPU half kernels of this torch build
        pytest.skip(f"half-precision autograd is unavailable on this CPU: {exc}")
    torch.manual_seed(6)
    scaled = reg(_tiny_d, real, fake, grad_scale=2.0**16)  # the GradScaler's initial scale: no overflow either
    n = 3 * 8 * 8
    if name == "r1":
        assert unscaled.item() == 0.0  # the gradient underflowed: the penalty silently vanished
        expected = 0.5 * n * 1e-16
    else:
        assert unscaled.item() == pytest.approx(1.0)  # ||0 - 1||^2: the critic looks flat
        expected = (math.sqrt(n) * 1e-8 - 1) ** 2
    assert torch.isfinite(scaled) and scaled.item() == pytest.approx(expected, rel=1e-2)
    if name == "r1":
        assert scaled.item() > 0


def test_grad_scale_rescues_path_length_in_fp16() -> None:
    torch.manual_seed(0)
    G = LinearG(4, (1, 4, 4), dtype=torch.float16, scale=1e-4)
    layer = 1e-4  # a second tiny factor: d G / d z ~ 1e-8 * y, below fp16's range

    def gen(z: Tensor) -> Tensor:
        return G(z) * layer

    z = torch.randn(4, 4, dtype=torch.float16)
    reg = PathLength(interval=1)
    torch.manual_seed(1)
    unscaled = reg(gen, z, gen(z))
    reg = PathLength(interval=1)
    torch.manual_seed(1)
    scaled = reg(gen, z, gen(z), grad_scale=2.0**16)
    assert unscaled.item() == 0.0 and reg.pl_mean.item() > 0  # underflow: no path length at all, vs a real one
    torch.manual_seed(1)
    y = torch.randn(4, 16) / 4.0  # (B, C*H*W) as the regulariser draws it
    lengths = (y.double() @ (G.w.double() * layer).T).norm(dim=1)
    a = 0.01 * lengths.mean()
    assert scaled.item() == pytest.approx(2.0 * ((lengths - a) ** 2).mean().item(), rel=5e-2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="fp16 autocast needs CUDA")
@pytest.mark.parametrize("name", D_REGULARIZERS)
def test_fp16_autocast_penalty_matches_fp32_on_cuda(name: str) -> None:
    D, reg = _conv_d().cuda(), REG.build("loss", name, {})
    with torch.no_grad():
        for p in D.parameters():
            p.mul_(1e-3)  # input gradients ~1e-6 and below: fp16's subnormal range
    real, fake = torch.randn(4, 3, 8, 8, device="cuda"), torch.randn(4, 3, 8, 8, device="cuda")
    torch.manual_seed(5)
    reference = reg(D, real, fake)
    torch.manual_seed(5)
    with torch.autocast("cuda", dtype=torch.float16):
        scaled = reg(D, real, fake, grad_scale=2.0**16)
    assert torch.isfinite(scaled) and scaled.item() == pytest.approx(reference.item(), rel=0.1)


# ------------------------------------------------------------------ path length


def test_path_length_matches_the_analytic_jacobian() -> None:
    torch.manual_seed(0)
    B, Z, shape = 5, 3, (2, 3, 4)
    G = LinearG(Z, shape)
    reg = PathLength(pl_weight=2.0, decay=0.01, interval=1)
    a = torch.zeros((), dtype=torch.float64)
    for seed in (11, 12):  # two calls: a is a running mean
        z = torch.randn(B, Z, dtype=torch.float64).requires_grad_(True)
        torch.manual_seed(seed)
        penalty = reg(G, z, G(z))
        torch.manual_seed(seed)
        y = torch.randn(B, *shape, dtype=torch.float64).flatten(1) / math.sqrt(3 * 4)  # (B, N), y ~ N(0, I) / sqrt(H W)
        w = G.w.detach().requires_grad_(True)
        lengths = torch.linalg.vector_norm(y @ w.T, dim=1)  # ||J^T y|| with J^T = W: (B,)
        a = a + 0.01 * (lengths.detach().mean() - a)
        expected = 2.0 * ((lengths - a) ** 2).mean()
        assert penalty.item() == pytest.approx(expected.item(), rel=1e-10)
        assert reg.pl_mean.item() == pytest.approx(a.item(), rel=1e-12)
        # create_graph: the penalty back-propagates into G's weights like the formula with a held fixed.
        (g_auto,) = torch.autograd.grad(penalty, G.w)
        (g_ref,) = torch.autograd.grad(expected, w)
        assert torch.allclose(g_auto, g_ref, rtol=1e-9)


def test_path_length_builds_its_own_graph_when_z_needs_no_grad() -> None:
    torch.manual_seed(0)
    G, z = LinearG(3, (1, 2, 2)), torch.randn(4, 3, dtype=torch.float64)
    torch.manual_seed(1)
    own = PathLength()(G, z, G(z))
    zg = z.clone().requires_grad_(True)
    torch.manual_seed(1)
    assert torch.equal(own, PathLength()(G, zg, G(zg)))


def test_path_length_state_round_trips() -> None:
    torch.manual_seed(0)
    G = LinearG(3, (1, 2, 2), dtype=torch.float32)
    z = torch.randn(4, 3).requires_grad_(True)
    reg = PathLength()
    reg(G, z, G(z))
    state = reg.state_dict()
    assert set(state) == {"pl_mean"} and state["pl_mean"].item() > 0
    copy = PathLength()
    copy.load_state_dict(state)
    torch.manual_seed(2)
    a = reg(G, z, G(z))
    torch.manual_seed(2)
    assert torch.equal(a, copy(G, z, G(z))) and torch.equal(reg.pl_mean, copy.pl_mean)
    with pytest.raises(ValueError, match="pl_mean"):
        copy.load_state_dict({})


def test_path_length_ignores_a_non_finite_batch() -> None:
    reg = PathLength(interval=1)
    reg.pl_mean = torch.tensor(0.5)

    def exploding(z: Tensor) -> Tensor:
        return (z * float("inf")).view(-1, 1, 1, 1).expand(-1, 1, 2, 2)  # (B, 1, 2, 2)

    z = torch.ones(2, 1).requires_grad_(True)
    assert not torch.isfinite(reg(exploding, z, exploding(z)))  # the update will be skipped ...
    assert reg.pl_mean.item() == 0.5  # ... and a survives it


def test_path_length_needs_images() -> None:
    z = torch.randn(2, 3).requires_grad_(True)
    with pytest.raises(ValueError, match="B, C, H, W"):
        PathLength()(lambda v: v * 2, z, z * 2)


# ------------------------------------------------------------------ the task


class GNormSpy:
    """A third-party G regulariser that records the G-phase arguments."""

    phase = "G"
    interval = 1

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[int, ...], tuple[int, ...], bool]] = []

    def __call__(self, generator: Any, z: Tensor, fake: Tensor, *, grad_scale: float = 1.0) -> Tensor:
        self.calls.append((tuple(z.shape), tuple(fake.shape), z.requires_grad))
        return fake.float().square().mean()


class ScaleSpy:
    """Records the ``grad_scale`` the task passes."""

    interval = 1

    def __init__(self, phase: str) -> None:
        self.phase = phase
        self.scales: list[float] = []

    def __call__(self, network: Any, a: Tensor, b: Tensor, **kwargs: Any) -> Tensor:
        self.scales.append(kwargs["grad_scale"])
        return b.float().mean() * 0


BUILT: dict[str, Any] = {}


class _Plugin:
    @hookimpl
    def ganzoo_losses(self) -> list[LossEntry]:
        def make(name: str, factory: Any) -> LossEntry:
            def build(params: NoParams) -> object:
                BUILT[name] = factory()
                return BUILT[name]

            return LossEntry(name=name, loss_kind="regularizer", build=build, params=NoParams, description=f"test {name}")

        return [
            make("spy-g-args", GNormSpy),
            make("spy-d", lambda: ScaleSpy("D")),
            make("spy-g", lambda: ScaleSpy("G")),
        ]


@pytest.fixture(scope="module")
def reg_extra() -> Registries:
    return collect(get_plugin_manager(extra=[("test_regularizer_phases", _Plugin())]))






def test_third_party_g_regulariser_gets_latents_and_fake(tiny_spec: dict[str, Any], reg_extra: Registries, tmp_path: Path) -> None:
    tiny_spec["losses"]["regularizers"] = [{"type": "r1"}, {"type": "spy-g-args"}]
    tiny_spec["train"]["steps"] = 2
    run = fit_quiet(tiny_spec, reg_extra, tmp_path)
    records = train_records(tmp_path)
    assert run.step == 2 and all(math.isfinite(r["D/r1"]) and math.isfinite(r["G/spy-g-args"]) for r in records)
    assert BUILT["spy-g-args"].calls == [((8, 8), (8, 1, 16, 16), True)] * 2  # (generator, z, fake), z a leaf with grad


def test_task_passes_each_network_s_grad_scale(tiny_spec: dict[str, Any], reg_extra: Registries, tmp_path: Path) -> None:
    tiny_spec["losses"]["regularizers"] = [{"type": "spy-d"}, {"type": "spy-g"}]
    tiny_spec["train"].update(steps=1, sample_every=0, checkpoint_every=0, tensorboard=False)
    run = Run(validate_spec(tiny_spec, reg_extra), reg_extra, tmp_path)
    asked: list[str] = []

    def grad_scale(network: str) -> float:  # stands in for an fp16 GradScaler, which the CPU refuses
        asked.append(network)
        return {"discriminator": 1024.0, "generator": 2048.0}[network]

    run.grad_scale = grad_scale  # type: ignore[method-assign]
    run.fit()
    assert BUILT["spy-d"].scales == [1024.0] and BUILT["spy-g"].scales == [2048.0]
    assert asked == ["discriminator", "generator"]


def test_unknown_phase_is_refused() -> None:
    def recipe(reg: Any) -> AdversarialRecipe:
        return AdversarialRecipe(LossSet(adversarial=NonSaturating(), regularizers=[("bad", reg, 1.0)]), latents=True)

    with pytest.raises(ConfigError, match="phase 'E'"):
        recipe(SimpleNamespace(phase="E", interval=1))
    with pytest.raises(ConfigError, match="interval 0"):
        recipe(SimpleNamespace(phase="G", interval=0))
    with pytest.raises(ConfigError, match=r"generator regularisers \['bad'\] act on latents"):
        AdversarialRecipe(LossSet(adversarial=NonSaturating(), regularizers=[("bad", SimpleNamespace(phase="G", interval=1), 1.0)]))


@pytest.mark.parametrize("interval", [1, 2])
def test_path_length_trains(interval: int, tiny_spec: dict[str, Any], registries: Registries, tmp_path: Path) -> None:
    tiny_spec["losses"]["regularizers"] = [{"type": "path-length", "params": {"interval": interval}}]
    tiny_spec["train"].update(steps=2, ema=0.9)
    run = fit_quiet(tiny_spec, registries, tmp_path)
    records = train_records(tmp_path)
    assert [r["step"] for r in records] == [1, 2] and run.d_updates == 2
    assert run.ema is not None and run.ema.updates == 2  # once per step: a G_reg update is not a step
    if interval == 1:  # part of the G loss, no phase of its own
        assert all(math.isfinite(r["G/path-length"]) for r in records)
        assert not any(k.startswith("G_reg/") for r in records for k in r)
    else:  # its own G_reg update on step 2 (steps interval, 2 interval, ...)
        assert [any(k.startswith("G_reg/") for k in r) for r in records] == [False, True]
        assert math.isfinite(records[1]["G_reg/path-length"]) and math.isfinite(records[1]["G_reg/loss"])
        assert not any("G/path-length" in r for r in records)
    assert not any(k.startswith("D_reg/") for r in records for k in r)


def test_path_length_resume_is_bit_identical(tiny_spec: dict[str, Any], registries: Registries, tmp_path: Path) -> None:
    tiny_spec["losses"]["regularizers"] = [{"type": "path-length", "params": {"interval": 2}}]
    tiny_spec["train"].update(sample_every=0, tensorboard=False)
    full = train(validate_spec(tiny_spec, registries), tmp_path / "full", registries=registries)
    tiny_spec["train"]["steps"] = 2
    part = train(validate_spec(tiny_spec, registries), tmp_path / "part", registries=registries)
    saved = load_checkpoint(part / "checkpoints" / "step_00000002.pt")["plugins"]["ganzoo_losses"]["regularizers"]
    assert set(saved) == {"0.path-length"} and saved["0.path-length"]["pl_mean"].item() > 0
    run = Run(resume_spec(part, registries, ["train.steps=4"]), registries, part)
    assert run.resume() and run.losses.regularizers[0][1].pl_mean.item() == saved["0.path-length"]["pl_mean"].item()
    run.fit()
    assert_same_nets(full, part)
    a, b = last_checkpoint(full), last_checkpoint(part)
    assert torch.equal(a["plugins"]["ganzoo_losses"]["regularizers"]["0.path-length"]["pl_mean"],
                       b["plugins"]["ganzoo_losses"]["regularizers"]["0.path-length"]["pl_mean"])


def test_path_length_on_the_conditional_task(tmp_path: Path) -> None:
    from tests.plugins.test_conditional import SPEC

    base = load_registries()
    if "cdcgan" not in base["model"].names("generator"):
        import ganzoo_dcgan.conditional

        base = collect(get_plugin_manager(extra=[("ganzoo_cdcgan", ganzoo_dcgan.conditional)]))
    spec = json.loads(json.dumps(SPEC))
    spec["losses"]["regularizers"] = [{"type": "path-length", "params": {"interval": 1}}]
    fit_quiet(spec, base, tmp_path)
    assert all(math.isfinite(r["G/path-length"]) for r in train_records(tmp_path))


@pytest.mark.skipif(shutil.which("torchrun") is None or not torch.distributed.is_available(), reason="needs torchrun")
def test_path_length_under_ddp_matches_one_process(tiny_spec: dict[str, Any], registries: Registries, tmp_path: Path) -> None:
    from tests.test_distributed import _spec, _torchrun

    tiny_spec["losses"]["regularizers"] = [{"type": "path-length", "params": {"interval": 2}}]
    spec = _spec(tiny_spec, tmp_path)  # no batch norm: per-replica statistics would differ
    proc = _torchrun(["train", str(spec), "--out", str(tmp_path / "ddp"), "--set", "train.steps=4"], 2, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    single = yaml.safe_load(spec.read_text())
    single["train"]["steps"] = 4
    Run(validate_spec(single, registries), registries, tmp_path / "one").fit()
    a = load_checkpoint(list_checkpoints(tmp_path / "ddp" / "checkpoints")[-1][1])
    b = load_checkpoint(list_checkpoints(tmp_path / "one" / "checkpoints")[-1][1])
    # y is sliced from one global draw and a averages the ranks' means: the same a and weights as one process.
    key = ("ganzoo_losses", "regularizers", "0.path-length")
    pl = [s["plugins"][key[0]][key[1]][key[2]]["pl_mean"] for s in (a, b)]
    torch.testing.assert_close(pl[0], pl[1], rtol=1e-4, atol=0)
    for k, v in b["nets"]["generator"].items():
        torch.testing.assert_close(a["nets"]["generator"][k], v, rtol=1e-4, atol=1e-5)
