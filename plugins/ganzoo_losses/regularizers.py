"""Discriminator regularisers: gradient penalties evaluated in the task's ``D_reg`` phase.

Both return the bare penalty; the task multiplies it by the spec's ``weight``
and by ``interval`` (lazy regularisation), so ``weight`` is the paper's
coefficient: lambda = 10 for WGAN-GP, gamma for R1.

The discriminator may run under autocast (bf16/fp16); the input gradients are
taken with ``create_graph=True`` so the penalty back-propagates into D, and the
norms are computed in float32 with autocast off, since squaring a bf16 gradient
loses most of its mantissa.
"""

from __future__ import annotations

from typing import Callable, Literal

import torch

__all__ = ["GradientPenalty", "R1"]

Discriminator = Callable[[torch.Tensor], torch.Tensor]


def _at_least_fp32(t: torch.Tensor) -> torch.Tensor:
    return t.to(torch.promote_types(t.dtype, torch.float32))  # float64 stays float64


def _input_grad(discriminator: Discriminator, x: torch.Tensor) -> torch.Tensor:
    """Gradient of ``sum(D(x))`` with respect to ``x`` (B, ...), kept differentiable.

    Summing the logits gives each sample its own gradient (samples are
    independent unless D mixes the batch, e.g. with BatchNorm); a patch D's
    logits are summed over patches as StyleGAN2 does.
    """
    logits = discriminator(x)  # (B,) or (B, ...)
    (grad,) = torch.autograd.grad(_at_least_fp32(logits).sum(), x, create_graph=True)
    return grad  # (B, ...)


def _norm(grad: torch.Tensor, *, squared: bool) -> torch.Tensor:
    """Per-sample L2 norm (or its square) of a (B, ...) gradient, in float32 (or wider)."""
    with torch.autocast(grad.device.type, enabled=False):
        flat = _at_least_fp32(grad).flatten(1)  # (B, N)
        # vector_norm has a zero subgradient at 0, where sqrt(sum(g^2)) would back-propagate NaN.
        return flat.square().sum(dim=1) if squared else torch.linalg.vector_norm(flat, dim=1)  # (B,)


class GradientPenalty:
    """WGAN-GP (Gulrajani et al. 2017): ``mean((||grad D(x_hat)||_2 - target)^2)``.

    ``x_hat = eps * real + (1 - eps) * fake`` with one ``eps ~ U(0, 1)`` per
    sample, drawn from the global torch RNG of the images' device so that
    checkpoints capture it and a resumed run stays exact. Use with
    ``weight: 10`` (the paper's lambda).

    Args:
        target: The gradient norm to pull towards (1 for a 1-Lipschitz critic).
        interval: Apply every ``interval`` discriminator updates.
    """

    phase: Literal["D", "G"] = "D"

    def __init__(self, target: float = 1.0, interval: int = 1) -> None:
        self.target = target
        self.interval = interval

    def __call__(self, discriminator: Discriminator, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        real = real.detach()
        fake = fake.detach().to(real.dtype)  # G may have run under autocast
        if fake.shape != real.shape:
            raise ValueError(f"gradient-penalty needs real and fake batches of one shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
        eps = torch.rand((real.shape[0],) + (1,) * (real.ndim - 1), device=real.device, dtype=real.dtype)  # (B, 1, 1, 1)
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)  # (B, C, H, W)
        norm = _norm(_input_grad(discriminator, x_hat), squared=False)  # (B,)
        return (norm - self.target).square().mean()


class R1:
    """R1 (Mescheder et al. 2018): ``0.5 * mean(||grad D(x_real)||^2)`` on real images.

    The spec's ``weight`` is gamma: the task's ``weight * penalty`` is then
    StyleGAN2's ``gamma / 2 * ||grad||^2``. With ``interval: k`` the penalty is
    applied every k discriminator updates and scaled by k (lazy regularisation).

    Args:
        interval: Apply every ``interval`` discriminator updates.
    """

    phase: Literal["D", "G"] = "D"

    def __init__(self, interval: int = 1) -> None:
        self.interval = interval

    def __call__(self, discriminator: Discriminator, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        x = real.detach().requires_grad_(True)  # (B, C, H, W)
        return 0.5 * _norm(_input_grad(discriminator, x), squared=True).mean()
