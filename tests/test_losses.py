"""Adversarial objectives against their formulas on hand-made logits."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from ganzoo.losses import AdversarialLoss, Regularizer
from ganzoo.plugin.registry import load_registries


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_non_saturating_formula():
    loss = load_registries().build("loss", "non-saturating", {})
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    d = -(math.log(_sigmoid(2.0)) + math.log(_sigmoid(-1.0))) / 2 - (math.log(1 - _sigmoid(0.5)) + math.log(1 - _sigmoid(-3.0))) / 2
    g = -(math.log(_sigmoid(0.5)) + math.log(_sigmoid(-3.0))) / 2
    assert abs(loss.d_loss(real, fake).item() - d) < 1e-6
    assert abs(loss.g_loss(fake).item() - g) < 1e-6


def test_non_saturating_is_stable_for_huge_logits():
    loss = load_registries().build("loss", "non-saturating", {})
    real, fake = torch.tensor([1e4], requires_grad=True), torch.tensor([-1e4], requires_grad=True)
    d = loss.d_loss(real, fake)
    d.backward()
    assert torch.isfinite(d) and d.item() < 1e-6
    g = loss.g_loss(torch.tensor([-1e4]))
    assert torch.isfinite(g) and abs(g.item() - 1e4) < 1e-2  # -log(sigmoid(-1e4)) = 1e4, not inf


def test_label_smoothing():
    loss = load_registries().build("loss", "non-saturating", {"label_smoothing": 0.1})
    real, fake = torch.tensor([1.0]), torch.tensor([-100.0])
    expected = -(0.9 * math.log(_sigmoid(1.0)) + 0.1 * math.log(1 - _sigmoid(1.0)))
    assert abs(loss.d_loss(real, fake).item() - expected) < 1e-5


def test_registered_losses_implement_their_protocols():
    """Tasks read ``needs_real_logits`` and pass ``grad_scale``: every built-in declares and accepts them."""
    reg = load_registries()
    adversarial = [e.name for e in reg.all_entries() if e.kind == "loss" and e.loss_kind == "adversarial"]
    assert len(adversarial) >= 6
    for name in adversarial:
        loss = reg.build("loss", name, {})
        assert isinstance(loss, AdversarialLoss) and isinstance(loss.needs_real_logits, bool), name
    regularizers = [e.name for e in reg.all_entries() if e.kind == "loss" and e.loss_kind == "regularizer"]
    x = torch.randn(2, 1, 4, 4)
    for name in regularizers:
        r = reg.build("loss", name, {})
        assert isinstance(r, Regularizer), name
        if r.phase == "D":
            value = r(lambda img: img.flatten(1).sum(1), x, x.clone(), grad_scale=1.0)
        else:
            z = torch.randn(2, 3, requires_grad=True)
            value = r(lambda z: z.sum(1).view(2, 1, 1, 1).expand(2, 1, 4, 4), z, z.sum(1).view(2, 1, 1, 1).expand(2, 1, 4, 4), grad_scale=1.0)
        assert value.ndim == 0 and torch.isfinite(value), name


# ------------------------------------------------------------------ pixel losses


@pytest.mark.parametrize(("name", "reference"), [("l1", torch.nn.functional.l1_loss), ("mse", torch.nn.functional.mse_loss)])
def test_pixel_losses_match_torch(registries, name, reference):
    loss = registries.build("loss", name, {})
    pred, target = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    assert torch.allclose(loss(pred, target), reference(pred, target))
    assert loss(pred.bfloat16(), target.bfloat16()).dtype == torch.float32  # compared in float32 under autocast


def test_masked_pixel_loss_averages_over_the_hole_only(registries):
    l1 = registries.build("loss", "l1", {})
    pred, target = torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 4)
    mask = torch.zeros(2, 1, 4, 4)
    mask[:, :, :2, :2] = 1  # a 2x2 hole
    pred[:, :, :2, :2] = 0.5  # wrong inside the hole only
    pred[:, :, 2:, 2:] = 9.0  # wrong outside: must not count
    assert l1(pred, target, mask).item() == pytest.approx(0.5)  # not 0.5 * 4/16: independent of the hole's size
    assert l1(pred, target, torch.zeros_like(mask)).item() == 0.0  # no hole in the batch: 0, not NaN
    with pytest.raises(ValueError, match=r"mask must be \(B, 1, H, W\)"):
        l1(pred, target, mask[:, :, :3])
    with pytest.raises(ValueError, match="differ in shape"):
        l1(pred, target[:1])


def test_charbonnier_is_a_smooth_l1(registries):
    ch = registries.build("loss", "charbonnier", {"eps": 1e-3})
    pred, target = torch.randn(2, 1, 8, 8), torch.randn(2, 1, 8, 8)
    d = pred - target
    assert torch.allclose(ch(pred, target), torch.sqrt(d**2 + 1e-6).mean())
    assert ch(target, target).item() == pytest.approx(1e-3)  # eps at zero error
    pred.requires_grad_(True)
    ch(pred, pred.detach()).backward()  # finite gradient at zero error, unlike sqrt(d^2)
    assert torch.isfinite(pred.grad).all()
