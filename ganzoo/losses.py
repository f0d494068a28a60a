"""Protocols that loss components implement. Concrete losses live in plugins.

Adversarial objectives work on raw discriminator logits so plugins can use the
numerically stable ``softplus``/``binary_cross_entropy_with_logits`` forms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import torch

__all__ = ["AdversarialLoss", "LossSet", "Regularizer", "ReconstructionLoss", "randn_like_global"]


@runtime_checkable
class AdversarialLoss(Protocol):
    """A GAN objective on logits (B,) or (B, ...).

    Attributes:
        needs_real_logits: True for relativistic objectives, whose generator loss
            compares with the real logits: the G phase then also scores a real
            batch (with D frozen) and passes it as ``real_logits``; otherwise
            ``g_loss`` gets ``None`` and no real batch is scored.
    """

    needs_real_logits: bool

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """Discriminator loss (scalar), minimised by the D phase."""
        ...

    def g_loss(self, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None) -> torch.Tensor:
        """Generator loss (scalar). ``real_logits`` is passed for relativistic objectives."""
        ...


@runtime_checkable
class Regularizer(Protocol):
    """A penalty on one network, every ``interval`` updates (lazy regularisation).

    With ``interval: 1`` the task adds the penalty to that network's main loss
    (``D`` or ``G`` phase); with ``interval: k > 1`` it gets its own update
    (``D_reg``/``G_reg``) every k updates, scaled by k.

    The arguments depend on ``phase``:

    - ``"D"``: ``(discriminator, real, fake)``: a function from images (B, C, H, W)
      to logits, conditioned and augmented as in the adversarial loss, and a real
      and a generated batch of one shape (the generated one detached).
    - ``"G"``: ``(generator, z, fake)``: a function from latents (B, Z) to images
      (conditioning bound), the latents, and ``fake = generator(z)`` computed in
      the current phase with ``z`` a leaf that requires grad, so a penalty on the
      Jacobian d fake / d z (path length) can reuse that graph instead of a
      second forward.

    ``grad_scale`` is the fp16 GradScaler's current scale of the network the
    penalty updates (1.0 otherwise). A penalty that takes ``autograd.grad``
    inside the loss should scale the differentiated output up by it and the
    gradient back down (in float32), or small gradients underflow in fp16. A
    penalty that takes no input gradient accepts the keyword and ignores it.

    Attributes:
        phase: ``"D"`` or ``"G"``: which network's optimiser the penalty steps.
        interval: Apply every ``interval`` updates; the penalty is scaled by it.
    """

    phase: Literal["D", "G"]
    interval: int

    def __call__(
        self,
        network: Callable[[torch.Tensor], torch.Tensor],
        first: torch.Tensor,
        second: torch.Tensor,
        *,
        grad_scale: float = 1.0,
    ) -> torch.Tensor:
        """Return the scalar penalty (the task multiplies it by the spec's weight)."""
        ...


@dataclass
class LossSet:
    """The built loss components of a spec, with their weights.

    Attributes:
        adversarial: The GAN objective, or None for a run without a discriminator.
        adversarial_weight: Its weight in the generator loss (``losses.adversarial.weight``).
        regularizers: ``(name, regulariser, weight)`` in spec order.
        reconstruction: ``(name, loss, weight)`` in spec order.
    """

    adversarial: AdversarialLoss | None = None
    adversarial_weight: float = 1.0
    regularizers: list[tuple[str, Regularizer, float]] = field(default_factory=list)
    reconstruction: list[tuple[str, ReconstructionLoss, float]] = field(default_factory=list)


@runtime_checkable
class ReconstructionLoss(Protocol):
    """A loss between a prediction and its target, both (B, C, H, W) in [-1, 1].

    ``mask`` (B, 1, H, W), when given, selects the pixels that count (1 = counted):
    the loss is then averaged over those pixels only, so a hole loss does not
    shrink with the hole's size. Losses that cannot restrict themselves to a
    region (perceptual ones) ignore it and say so in their description.

    Optional:
        region_aware: ``bool`` class attribute, default ``True``. ``False`` for a
            loss that ignores ``mask`` (perceptual): a task that splits losses by
            region (inpainting) then calls it once, over the whole image.
    """

    def __call__(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Return the scalar loss (the task multiplies it by the spec's weight)."""
        ...


def randn_like_global(like: torch.Tensor) -> torch.Tensor:
    """Standard normals shaped like ``like`` (B, ...), shared out across DDP ranks like ``StepContext.randn``.

    For a loss or regulariser that needs per-sample noise but has no step
    context (path length's random image directions): every rank draws for the
    global batch from the shared RNG stream and keeps its rows, so a DDP run
    sees the noise one process would, each row with its own image.
    """
    import torch.distributed as dist

    from ganzoo.engine.distributed import rank_rows

    rank, world = (dist.get_rank(), dist.get_world_size()) if dist.is_available() and dist.is_initialized() else (0, 1)
    full = torch.randn((like.shape[0] * world, *like.shape[1:]), device=like.device, dtype=like.dtype)  # (world * B, ...)
    return rank_rows(full, rank, world)
