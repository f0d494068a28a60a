"""Adversarial objectives against their formulas on hand-made logits."""

from __future__ import annotations

import math

import torch

from ganzoo.registry import load_registries


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
