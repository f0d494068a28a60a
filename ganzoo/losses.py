"""Protocols that loss components implement. Concrete losses live in plugins.

Adversarial objectives work on raw discriminator logits so plugins can use the
numerically stable ``softplus``/``binary_cross_entropy_with_logits`` forms.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Literal, Protocol, runtime_checkable

import torch

__all__ = ["AdversarialLoss", "Regularizer", "ReconstructionLoss", "accepts_grad_scale", "add_penalties", "call_regularizer", "randn_like_global"]


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
    gradient back down (in float32), or small gradients underflow in fp16. The
    keyword is optional: a regulariser whose ``__call__`` does not take it is
    called without it (see :func:`accepts_grad_scale`).

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


def accepts_grad_scale(regularizer: Any) -> bool:
    """Whether calling ``regularizer`` accepts the ``grad_scale`` keyword.

    Regularisers written before the keyword existed must keep working, so a
    task passes ``grad_scale`` only where it is accepted (named parameter, or
    ``**kwargs``). Called every step, so the answer is cached per class for
    callable objects (their ``__call__`` belongs to the class).
    """
    if inspect.isfunction(getattr(type(regularizer), "__call__", None)):  # an instance of a Python class
        return _class_accepts(type(regularizer))
    return _signature_accepts(regularizer)  # functions, methods, partials, C callables


@functools.lru_cache(maxsize=None)
def _class_accepts(cls: type) -> bool:
    return _signature_accepts(cls.__call__, bound=True)


def _signature_accepts(fn: Any, *, bound: bool = False) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())[1 if bound else 0 :]
    except (TypeError, ValueError):  # a builtin or C callable without a signature: do not risk a TypeError
        return False
    return any(
        p.kind is inspect.Parameter.VAR_KEYWORD
        or (p.name == "grad_scale" and p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD))
        for p in params
    )


def call_regularizer(regularizer: Any, network: Callable[[torch.Tensor], torch.Tensor], first: torch.Tensor, second: torch.Tensor,
                     *, grad_scale: float = 1.0) -> torch.Tensor:
    """Call ``regularizer(network, first, second)``, with ``grad_scale`` when it accepts the keyword.

    What every task should use: fp16 penalties get the scaler's factor, and
    regularisers written before the keyword existed are called as before.
    """
    if accepts_grad_scale(regularizer):
        return regularizer(network, first, second, grad_scale=grad_scale)  # type: ignore[no-any-return]
    return regularizer(network, first, second)  # type: ignore[no-any-return]


def add_penalties(loss: torch.Tensor, terms: dict[str, torch.Tensor], regularizers: Any, network: Callable[[torch.Tensor], torch.Tensor],
                  first: torch.Tensor, second: torch.Tensor, *, grad_scale: float = 1.0) -> torch.Tensor:
    """``loss`` plus ``weight * penalty`` of every ``(name, regularizer, weight)``; each penalty is logged in ``terms``.

    The every-step (``interval == 1``) penalties of a phase, as WGAN-GP adds its
    penalty to D's loss; lazy ones get a phase of their own.
    """
    for name, regularizer, weight in regularizers:
        penalty = call_regularizer(regularizer, network, first, second, grad_scale=grad_scale)
        loss = loss + weight * penalty
        terms[name] = penalty.detach()
    return loss


@runtime_checkable
class ReconstructionLoss(Protocol):
    """A loss between a prediction and its target, both (B, C, H, W) in [-1, 1].

    ``mask`` (B, 1, H, W), when given, selects the pixels that count (1 = counted):
    the loss is then averaged over those pixels only, so a hole loss does not
    shrink with the hole's size. Losses that cannot restrict themselves to a
    region (perceptual ones) ignore it, say so in their description and set the
    class attribute ``region_aware = False``, so a task that splits losses by
    region (inpainting) calls them once, over the whole image. (An optional
    attribute, not a protocol member: losses without it are region-aware.)
    """

    def __call__(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
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
