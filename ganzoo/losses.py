"""Protocols that loss components implement. Concrete losses live in plugins.

Adversarial objectives work on raw discriminator logits so plugins can use the
numerically stable ``softplus``/``binary_cross_entropy_with_logits`` forms.
"""

from __future__ import annotations

from typing import Callable, Literal, Protocol, runtime_checkable

import torch

__all__ = ["AdversarialLoss", "Regularizer", "ReconstructionLoss"]


@runtime_checkable
class AdversarialLoss(Protocol):
    """A GAN objective on logits (B,) or (B, ...)."""

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """Discriminator loss (scalar), minimised by the D phase."""
        ...

    def g_loss(self, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None) -> torch.Tensor:
        """Generator loss (scalar). ``real_logits`` is passed for relativistic objectives."""
        ...


@runtime_checkable
class Regularizer(Protocol):
    """A penalty evaluated in its own phase, every ``interval`` steps (lazy regularisation).

    Attributes:
        phase: ``"D"`` or ``"G"``: which network's optimiser the penalty steps.
        interval: Apply every ``interval`` updates; the penalty is scaled by it.
    """

    phase: Literal["D", "G"]
    interval: int

    def __call__(
        self,
        discriminator: Callable[[torch.Tensor], torch.Tensor],
        real: torch.Tensor,
        fake: torch.Tensor,
    ) -> torch.Tensor:
        """Return the scalar penalty. ``discriminator`` maps images to logits (conditioning bound)."""
        ...


@runtime_checkable
class ReconstructionLoss(Protocol):
    """A loss between a prediction and its target, both (B, C, H, W) in [-1, 1]."""

    def __call__(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        ...
