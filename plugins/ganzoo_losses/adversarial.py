"""Adversarial objectives on raw logits.

``softplus(-x) = -log(sigmoid(x))`` and ``softplus(x) = -log(1 - sigmoid(x))``
are evaluated without forming the sigmoid, so large logits cannot overflow to
``log(0)`` the way ``Sigmoid`` + ``BCELoss`` does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class NonSaturating:
    """D: ``-log D(x) - log(1 - D(G(z)))``; G: ``-log D(G(z))`` (Goodfellow et al. 2014).

    Args:
        label_smoothing: One-sided smoothing of the real target (Salimans et al. 2016).
    """

    def __init__(self, label_smoothing: float = 0.0) -> None:
        self.label_smoothing = label_smoothing

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        real_logits, fake_logits = real_logits.float(), fake_logits.float()
        if self.label_smoothing:
            target = torch.full_like(real_logits, 1.0 - self.label_smoothing)
            real_term = F.binary_cross_entropy_with_logits(real_logits, target)
        else:
            real_term = F.softplus(-real_logits).mean()
        return real_term + F.softplus(fake_logits).mean()

    def g_loss(self, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None) -> torch.Tensor:
        return F.softplus(-fake_logits.float()).mean()
