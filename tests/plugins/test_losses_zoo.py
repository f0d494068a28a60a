"""The objectives zoo: adversarial losses against their formulas, gradient penalties
against analytic and finite-difference gradients, and 2-step training runs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
from torch import nn

from ganzoo import LossEntry
from ganzoo.losses import AdversarialLoss, Regularizer
from ganzoo.plugin.registry import Registries, load_registries

from tests.helpers import fit_quiet, train_records

REG = load_registries()
NEW_ADVERSARIAL = ["minimax", "hinge", "least-squares", "wasserstein", "relativistic-average"]
REGULARIZERS = ["gradient-penalty", "r1"]
G_REGULARIZERS = ["path-length"]

REAL = [2.0, -1.0, 0.25]
FAKE = [0.5, -3.0, 1.5]


def _softplus(x: float) -> float:
    return math.log1p(math.exp(-abs(x))) + max(x, 0.0)


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def _expected(name: str, real: list[float], fake: list[float]) -> tuple[float, float]:
    """(d_loss, g_loss) computed by hand in float64."""
    if name == "minimax":
        d = _mean([-math.log(1 / (1 + math.exp(-r))) for r in real]) + _mean([-math.log(1 - 1 / (1 + math.exp(-f))) for f in fake])
        return d, _mean([math.log(1 - 1 / (1 + math.exp(-f))) for f in fake])
    if name == "hinge":
        return _mean([max(0.0, 1 - r) for r in real]) + _mean([max(0.0, 1 + f) for f in fake]), -_mean(fake)
    if name == "least-squares":
        return 0.5 * (_mean([(r - 1) ** 2 for r in real]) + _mean([f**2 for f in fake])), 0.5 * _mean([(f - 1) ** 2 for f in fake])
    if name == "wasserstein":
        return _mean(fake) - _mean(real), -_mean(fake)
    if name == "relativistic-average":
        mr, mf = _mean(real), _mean(fake)
        rel_r, rel_f = [r - mf for r in real], [f - mr for f in fake]
        d = 0.5 * (_mean([_softplus(-x) for x in rel_r]) + _mean([_softplus(x) for x in rel_f]))
        g = 0.5 * (_mean([_softplus(x) for x in rel_r]) + _mean([_softplus(-x) for x in rel_f]))
        return d, g
    raise KeyError(name)


@pytest.mark.parametrize("name", NEW_ADVERSARIAL)
def test_adversarial_formula(name: str) -> None:
    loss = REG.build("loss", name, {})
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    d, g = _expected(name, REAL, FAKE)
    assert loss.d_loss(real, fake).item() == pytest.approx(d, abs=1e-6)
    assert loss.g_loss(fake, real).item() == pytest.approx(g, abs=1e-6)


@pytest.mark.parametrize("name", NEW_ADVERSARIAL)
def test_patch_logits_reduce_like_a_flat_batch(name: str) -> None:
    loss = REG.build("loss", name, {})
    real, fake = torch.randn(4, 1, 3, 3), torch.randn(4, 1, 3, 3)  # a patch D's (B, 1, h, w)
    d, g = _expected(name, real.flatten().tolist(), fake.flatten().tolist())
    assert loss.d_loss(real, fake).item() == pytest.approx(d, abs=1e-5)
    assert loss.g_loss(fake, real).item() == pytest.approx(g, abs=1e-5)
    assert loss.d_loss(real, fake).shape == ()


def test_least_squares_custom_targets() -> None:
    loss = REG.build("loss", "least-squares", {"a": -1.0, "b": 1.0, "c": 0.0})
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    d = 0.5 * (_mean([(r - 1) ** 2 for r in REAL]) + _mean([(f + 1) ** 2 for f in FAKE]))
    assert loss.d_loss(real, fake).item() == pytest.approx(d, abs=1e-6)
    assert loss.g_loss(fake).item() == pytest.approx(0.5 * _mean([f**2 for f in FAKE]), abs=1e-6)


def test_minimax_keeps_label_smoothing() -> None:
    loss = REG.build("loss", "minimax", {"label_smoothing": 0.1})
    s = 1 / (1 + math.exp(-1.0))
    expected = -(0.9 * math.log(s) + 0.1 * math.log(1 - s)) + _softplus(-100.0)
    assert loss.d_loss(torch.tensor([1.0]), torch.tensor([-100.0])).item() == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("name", ["non-saturating", *NEW_ADVERSARIAL])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_stable_for_huge_logits(name: str, sign: float) -> None:
    loss = REG.build("loss", name, {})
    real = torch.full((3,), sign * 1e4, requires_grad=True)
    fake = torch.full((3,), -sign * 1e4, requires_grad=True)
    for value in (loss.d_loss(real, fake), loss.g_loss(fake, real)):
        real.grad = fake.grad = None
        value.backward()
        assert torch.isfinite(value)
        for grad in (real.grad, fake.grad):
            assert grad is None or torch.isfinite(grad).all()


def test_minimax_saturates_without_overflow() -> None:
    # log(1 - sigmoid(1e4)) = -1e4 exactly in the softplus form, not log(0) = -inf.
    loss = REG.build("loss", "minimax", {})
    assert loss.g_loss(torch.tensor([1e4])).item() == pytest.approx(-1e4, rel=1e-6)


def test_relativistic_average_needs_real_logits() -> None:
    loss = REG.build("loss", "relativistic-average", {})
    assert loss.needs_real_logits is True
    with pytest.raises(ValueError, match="real logits"):
        loss.g_loss(torch.zeros(2))


@pytest.mark.parametrize("name", NEW_ADVERSARIAL)
def test_adversarial_protocol(name: str) -> None:
    loss = REG.build("loss", name, {})
    assert isinstance(loss, AdversarialLoss)
    assert getattr(loss, "needs_real_logits", False) == (name == "relativistic-average")


# ----------------------------------------------------------------- regularisers


class Quadratic(nn.Module):
    """D(x) = sum(w * x^2) per sample: grad_x D = 2 w x."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(shape, dtype=torch.float64))
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.detach().clone())
        return (self.w * x**2).flatten(1).sum(1)  # (B,)


def _fd_grad_norm(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, h: float = 1e-6) -> torch.Tensor:
    """Central finite-difference ||grad f|| per sample of (B, ...) x, f summed over the batch."""
    flat = x.detach().reshape(x.shape[0], -1)
    grad = torch.zeros_like(flat)
    for j in range(flat.shape[1]):
        step = torch.zeros_like(flat)
        step[:, j] = h
        with torch.no_grad():
            grad[:, j] = (f((flat + step).view_as(x)) - f((flat - step).view_as(x))) / (2 * h)
    return grad.norm(dim=1)  # (B,)


def test_gradient_penalty_matches_finite_differences() -> None:
    torch.manual_seed(0)
    shape = (2, 3, 3)
    D = Quadratic(shape)
    real, fake = torch.randn(4, *shape, dtype=torch.float64), torch.randn(4, *shape, dtype=torch.float64)
    gp = REG.build("loss", "gradient-penalty", {})
    penalty = gp(D, real, fake)
    (x_hat,) = D.seen
    # x_hat lies on each sample's real-fake segment, at its own eps in [0, 1].
    eps = ((x_hat - fake) / (real - fake)).flatten(1)  # (B, N)
    assert torch.allclose(eps, eps[:, :1].expand_as(eps)) and bool(((eps >= 0) & (eps <= 1)).all())
    assert eps[:, 0].unique().numel() == 4
    D.seen.clear()
    fd = _fd_grad_norm(lambda x: D(x), x_hat)
    analytic = (2 * D.w * x_hat).flatten(1).norm(dim=1)
    assert torch.allclose(fd, analytic, rtol=1e-6)
    assert penalty.item() == pytest.approx(((fd - 1) ** 2).mean().item(), rel=1e-6)
    # create_graph: the penalty differentiates into D's weights like the analytic formula does.
    (g_auto,) = torch.autograd.grad(penalty, D.w)
    w = D.w.detach().requires_grad_(True)
    ref = (((2 * w * x_hat).flatten(1).norm(dim=1) - 1) ** 2).mean()
    (g_ref,) = torch.autograd.grad(ref, w)
    assert torch.allclose(g_auto, g_ref, rtol=1e-6)


def test_gradient_penalty_target() -> None:
    torch.manual_seed(1)
    D = Quadratic((5,))
    real, fake = torch.randn(3, 5, dtype=torch.float64), torch.randn(3, 5, dtype=torch.float64)
    penalty = REG.build("loss", "gradient-penalty", {"target": 2.0})(D, real, fake)
    norm = (2 * D.w * D.seen[0]).norm(dim=1)
    assert penalty.item() == pytest.approx(((norm - 2) ** 2).mean().item(), rel=1e-6)


def test_gradient_penalty_vanishes_for_1_lipschitz_linear_critic() -> None:
    torch.manual_seed(2)
    w = torch.randn(3, 4, 4)
    w /= w.norm()  # ||grad D|| = ||w|| = 1 everywhere
    penalty = REG.build("loss", "gradient-penalty", {})(lambda x: (w * x).flatten(1).sum(1), torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4))
    assert penalty.item() < 1e-10


def test_gradient_penalty_uses_the_global_rng() -> None:
    gp = REG.build("loss", "gradient-penalty", {})
    real, fake = torch.randn(3, 4), torch.randn(3, 4)
    D = Quadratic((4,)).float()
    torch.manual_seed(7)
    a = gp(D, real, fake)
    after_a = torch.rand(1)
    torch.manual_seed(7)
    b = gp(D, real, fake)
    assert torch.equal(a, b) and torch.equal(D.seen[0], D.seen[1])  # reproducible from the global seed
    torch.manual_seed(7)
    assert not torch.equal(torch.rand(1), after_a)  # and it consumed from that RNG


def test_gradient_penalty_zero_gradient_is_finite() -> None:
    # A constant critic has zero input gradient; the norm's backward must not produce NaN.
    w = nn.Parameter(torch.ones(()))
    penalty = REG.build("loss", "gradient-penalty", {})(lambda x: w * x.flatten(1).sum(1) * 0, torch.randn(2, 3), torch.randn(2, 3))
    penalty.backward()
    assert penalty.item() == pytest.approx(1.0) and w.grad is not None and torch.isfinite(w.grad).all()


def test_r1_matches_analytic_gradient() -> None:
    torch.manual_seed(3)
    shape = (1, 4, 4)
    D = Quadratic(shape)
    real = torch.randn(6, *shape, dtype=torch.float64)
    penalty = REG.build("loss", "r1", {})(D, real, torch.randn_like(real))
    assert torch.equal(D.seen[0], real)  # on reals, not interpolates
    sq = (2 * D.w * real).flatten(1).square().sum(1)
    assert penalty.item() == pytest.approx(0.5 * sq.mean().item(), rel=1e-9)
    D.seen.clear()
    fd = _fd_grad_norm(lambda x: D(x), real)
    assert penalty.item() == pytest.approx(0.5 * (fd**2).mean().item(), rel=1e-6)
    (g_auto,) = torch.autograd.grad(penalty, D.w)
    w = D.w.detach().requires_grad_(True)
    (g_ref,) = torch.autograd.grad(0.5 * (2 * w * real).flatten(1).square().sum(1).mean(), w)
    assert torch.allclose(g_auto, g_ref, rtol=1e-9)


def test_r1_leaves_the_batch_alone() -> None:
    real = torch.randn(2, 3)
    REG.build("loss", "r1", {})(Quadratic((3,)).float(), real, real)
    assert not real.requires_grad


@pytest.mark.parametrize("name", REGULARIZERS)
def test_regularizers_under_bf16_autocast(name: str) -> None:
    torch.manual_seed(4)
    D = nn.Sequential(nn.Conv2d(3, 4, 3, 2, 1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(64, 1), nn.Flatten(0))
    real, fake = torch.randn(4, 3, 8, 8), torch.randn(4, 3, 8, 8)
    reg = REG.build("loss", name, {})
    with torch.autocast("cpu", dtype=torch.bfloat16):
        penalty = reg(D, real, fake.bfloat16())  # G's output under autocast is bf16
    assert penalty.dtype == torch.float32 and penalty.shape == () and torch.isfinite(penalty)
    penalty.backward()
    # A piecewise-linear D's input gradient depends on its weights only, not on its biases.
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in D.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for n, p in D.named_parameters() if n.endswith("weight"))
    torch.manual_seed(5)
    reference = reg(D, real, fake)
    torch.manual_seed(5)  # the same interpolates for the gradient penalty
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = reg(D, real, fake)
    assert low.item() == pytest.approx(reference.item(), rel=0.1, abs=1e-3)


@pytest.mark.parametrize("name", REGULARIZERS)
def test_regularizer_attributes(name: str) -> None:
    reg = REG.build("loss", name, {})
    assert isinstance(reg, Regularizer)
    assert reg.phase == "D" and reg.interval == 1
    assert REG.build("loss", name, {"interval": 16}).interval == 16


def test_path_length_attributes() -> None:
    reg = REG.build("loss", "path-length", {})
    assert isinstance(reg, Regularizer)
    assert (reg.phase, reg.interval, reg.pl_weight, reg.decay) == ("G", 4, 2.0, 0.01)  # StyleGAN2's lazy defaults
    assert REG.build("loss", "path-length", {"interval": 1}).interval == 1


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("r1", {"interval": 0}),
        ("gradient-penalty", {"target": 0.0}),
        ("least-squares", {"a": 1.0, "b": 1.0}),
        ("hinge", {"margin": 1}),
        ("path-length", {"interval": 0}),
        ("path-length", {"decay": 0.0}),
        ("path-length", {"weight": 2.0}),  # the spec's weight is not a param
    ],
)
def test_bad_params_are_refused(name: str, params: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        REG.build("loss", name, params)


@pytest.mark.parametrize("name", NEW_ADVERSARIAL + REGULARIZERS + G_REGULARIZERS)
def test_registered_with_kind_and_documented_params(name: str) -> None:
    entry = REG["loss"].get(name)
    assert isinstance(entry, LossEntry)
    assert entry.loss_kind == ("regularizer" if name in REGULARIZERS + G_REGULARIZERS else "adversarial")
    assert entry.plugin == "ganzoo_losses" and entry.description
    assert all(f.description for f in entry.params.model_fields.values())
    assert REG.build("loss", name, {}) is not None


# ------------------------------------------------------------------ end to end






@pytest.mark.parametrize("name", NEW_ADVERSARIAL)
def test_trains_two_steps(name: str, tiny_spec: dict[str, Any], registries: Registries, tmp_path: Path) -> None:
    tiny_spec["losses"]["adversarial"] = {"type": name}
    tiny_spec["train"].update(steps=2, d_steps=2)
    if name == "wasserstein":  # WGAN-GP: no BatchNorm in the critic, lambda = 10
        tiny_spec["losses"]["regularizers"] = [{"type": "gradient-penalty", "weight": 10}]
        tiny_spec["discriminator"]["params"]["batch_norm"] = False
    run = fit_quiet(tiny_spec, registries, tmp_path)
    assert run.step == 2
    records = train_records(tmp_path)
    assert [r["d_updates"] for r in records] == [float(run.d_updates // 2), float(run.d_updates)]
    assert all(math.isfinite(v) for r in records for k, v in r.items() if k.endswith("/loss"))
    # interval-1 penalties are part of the D loss (one update, as in WGAN-GP), not a separate phase
    has_gp = ["D/gradient-penalty" in r for r in records]
    assert has_gp == ([True, True] if name == "wasserstein" else [False, False])
    assert not any(k.startswith("D_reg/") for r in records for k in r)
    assert run.d_updates == 4  # steps x d_steps


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_lazy_r1_trains(precision: str, tiny_spec: dict[str, Any], registries: Registries, tmp_path: Path) -> None:
    tiny_spec["losses"]["regularizers"] = [{"type": "r1", "weight": 1.0, "params": {"interval": 2}}]
    tiny_spec["train"].update(steps=4, precision=precision)
    run = fit_quiet(tiny_spec, registries, tmp_path)
    assert run.step == 4
    records = train_records(tmp_path)
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert run.d_updates == records[-1]["d_updates"] >= 4
    has_reg = [any(k.startswith("D_reg/") for k in r) for r in records]
    assert has_reg[:2] == [False, True]  # not due after D update 1, due after D update 2
    assert all(math.isfinite(r["D_reg/r1"]) for r, due in zip(records, has_reg) if due)


def test_lazy_r1_runs_only_on_due_updates(tiny_spec: dict[str, Any], registries: Registries, tmp_path: Path) -> None:
    tiny_spec["losses"]["regularizers"] = [{"type": "r1", "weight": 1.0, "params": {"interval": 2}}]
    tiny_spec["train"].update(steps=4)
    run = fit_quiet(tiny_spec, registries, tmp_path)
    records = train_records(tmp_path)
    assert [r["step"] for r in records if any(k.startswith("D_reg/") for k in r)] == [2, 4]
    assert run.d_updates == 4


def test_d_updates_exclude_regulariser_updates(tiny_spec: dict[str, Any], registries: Registries, tmp_path: Path) -> None:
    tiny_spec["losses"]["adversarial"] = {"type": "wasserstein"}
    tiny_spec["losses"]["regularizers"] = [{"type": "gradient-penalty", "weight": 10}]
    tiny_spec["train"].update(steps=2, d_steps=2)
    assert fit_quiet(tiny_spec, registries, tmp_path).d_updates == 4  # docs/training.md: d_steps x steps
