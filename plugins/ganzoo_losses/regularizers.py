"""Regularisers: input-gradient penalties on D (GP, R1) and path length on G (w.r.t. w for StyleGAN2).

Each returns its penalty; the task multiplies it by the spec's ``weight`` and,
in a lazy phase, by ``interval``, so ``weight`` is the paper's coefficient:
lambda = 10 for WGAN-GP, gamma for R1 (path length carries StyleGAN2's
``pl_weight`` itself, so its spec weight stays 1).

The networks may run under autocast (bf16/fp16); gradients are taken with
``create_graph=True`` so the penalty back-propagates into the network, and the
norms are computed in float32 with autocast off, since squaring a bf16 gradient
loses most of its mantissa. Under fp16 the differentiated output is scaled up
before ``autograd.grad`` and the gradient scaled back down in float32 (the
"gradient penalty" recipe of PyTorch's AMP notes), so that small gradients do
not underflow; see :func:`_scaled_grad`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import torch
import torch.distributed as dist

from ganzoo.losses import randn_like_global

__all__ = ["GradientPenalty", "R1", "PathLength"]

Network = Callable[[torch.Tensor], torch.Tensor]


def _at_least_fp32(t: torch.Tensor) -> torch.Tensor:
    return t.to(torch.promote_types(t.dtype, torch.float32))  # float64 stays float64


def _fp16_factor(grad_scale: float, n: int) -> float:
    """The power of two the differentiated output is multiplied by (1.0 unless fp16 scales).

    The output is a *sum* over the batch, so each sample's output would get the
    whole scale as its upstream gradient, and the GradScaler's initial 2**16 is
    already inf in fp16 (max 65504). ``grad_scale / n`` gives each sample what
    it gets in a batch-mean loss under the scaler: the range the scaler is
    calibrated on. A power of two keeps the scaling exact (no rounding), and the
    factor never drops below 1, so fp32/bf16 arithmetic is unchanged.
    """
    ratio = grad_scale / max(n, 1)
    return 2.0 ** math.floor(math.log2(ratio)) if ratio >= 2.0 else 1.0


def _scaled_grad(output: torch.Tensor, inputs: torch.Tensor, grad_scale: float) -> torch.Tensor:
    """``d output / d inputs`` (B, ...) for a scalar ``output``, kept differentiable, in float32 or wider.

    Args:
        output: A scalar summed over the batch, in float32 or wider.
        inputs: (B, ...) leaf that requires grad.
        grad_scale: The GradScaler's current scale of the updated network (1.0 without fp16).
    """
    factor = _fp16_factor(grad_scale, inputs.shape[0])
    (grad,) = torch.autograd.grad(output * factor, inputs, create_graph=True)  # (B, ...), scaled
    with torch.autocast(grad.device.type, enabled=False):
        return _at_least_fp32(grad) / factor  # unscaled in float32: the true gradient


def _input_grad(discriminator: Network, x: torch.Tensor, grad_scale: float = 1.0) -> torch.Tensor:
    """Gradient of ``sum(D(x))`` with respect to ``x`` (B, ...), kept differentiable, in float32 or wider.

    Summing the logits gives each sample its own gradient (samples are
    independent unless D mixes the batch, e.g. with BatchNorm); a patch D's
    logits are summed over patches as StyleGAN2 does.
    """
    logits = discriminator(x)  # (B,) or (B, ...)
    return _scaled_grad(_at_least_fp32(logits).sum(), x, grad_scale)


def _norm(grad: torch.Tensor, *, squared: bool) -> torch.Tensor:
    """Per-sample L2 norm (or its square) of a (B, ...) gradient, in float32 (or wider)."""
    with torch.autocast(grad.device.type, enabled=False):
        flat = _at_least_fp32(grad).flatten(1)  # (B, N)
        # vector_norm has a zero subgradient at 0, where sqrt(sum(g^2)) would back-propagate NaN.
        return flat.square().sum(dim=1) if squared else torch.linalg.vector_norm(flat, dim=1)  # (B,)


def _world() -> tuple[int, int]:
    """(rank, world size) of the default process group; (0, 1) without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


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

    def __call__(self, discriminator: Network, real: torch.Tensor, fake: torch.Tensor, *, grad_scale: float = 1.0) -> torch.Tensor:
        real = real.detach()
        fake = fake.detach().to(real.dtype)  # G may have run under autocast
        if fake.shape != real.shape:
            raise ValueError(f"gradient-penalty needs real and fake batches of one shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
        eps = torch.rand((real.shape[0],) + (1,) * (real.ndim - 1), device=real.device, dtype=real.dtype)  # (B, 1, 1, 1)
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)  # (B, C, H, W)
        norm = _norm(_input_grad(discriminator, x_hat, grad_scale), squared=False)  # (B,)
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

    def __call__(self, discriminator: Network, real: torch.Tensor, fake: torch.Tensor, *, grad_scale: float = 1.0) -> torch.Tensor:
        x = real.detach().requires_grad_(True)  # (B, C, H, W)
        return 0.5 * _norm(_input_grad(discriminator, x, grad_scale), squared=True).mean()


class PathLength:
    """StyleGAN2 path length regularisation (Karras et al. 2020) w.r.t. w, or z for a generator without a mapping network.

    With ``J = d G / d w`` and ``y ~ N(0, I) / sqrt(H * W)`` of the image's
    shape, each sample's path length is ``||J^T y||``; the penalty is
    ``pl_weight * mean((||J^T y|| - a)^2)``, where ``a`` is a running mean of
    the batch's mean path length, ``a <- a + decay * (mean - a)``, updated
    before the penalty as in StyleGAN2.

    For a :class:`ganzoo.MappedGenerator` (StyleGAN2) the GAN tasks pass
    ``(synthesis, ws, fake)`` with ``ws`` (B, num_ws, W) (``uses_ws``): the
    gradient ``g = J^T y`` is then (B, num_ws, W) and the length is the
    paper's ``sqrt(mean_i sum_j g_ij^2)`` over the ws ``i``, computed as
    ``||g|| / sqrt(num_ws)`` (the same number, with a zero rather than a NaN
    subgradient at ``g = 0``). Other generators get ``(generator, z, fake)``
    with z (B, Z) and the length ``||J^T y||`` w.r.t. z. Unlike StyleGAN2 the
    penalty treats ``a`` as a constant (a running statistic; its gradient
    share is ``decay``-small), and under DDP the batch mean is averaged over
    ranks so every rank, and a checkpoint, holds the same ``a``.

    ``y`` comes from the global torch RNG of the images' device (checkpointed,
    so resume is exact), drawn for the global batch and sliced per rank, so a
    DDP run matches one process. ``a`` is state: :meth:`state_dict` and
    :meth:`load_state_dict` carry it across a checkpoint.

    Args:
        pl_weight: StyleGAN2's ``pl_weight``, part of the returned penalty.
        decay: Weight of the newest batch mean in ``a`` (StyleGAN2's ``pl_decay``).
        interval: Apply every ``interval`` generator steps, scaled by it (StyleGAN2: 4).
    """

    phase: Literal["D", "G"] = "G"
    uses_ws = True  # take (synthesis, ws, fake) where the generator maps z -> ws (see ganzoo.Latents)

    def __init__(self, pl_weight: float = 2.0, decay: float = 0.01, interval: int = 4) -> None:
        self.pl_weight = pl_weight
        self.decay = decay
        self.interval = interval
        self.pl_mean = torch.zeros((), dtype=torch.float32)  # a: 0 before the first batch, as in StyleGAN2

    def __call__(self, generator: Network, latents: torch.Tensor, fake: torch.Tensor, *, grad_scale: float = 1.0) -> torch.Tensor:
        """The penalty for ``fake = generator(latents)``.

        Args:
            generator: Latents -> images: the generator on z (B, Z), or the
                synthesis network on ws (B, num_ws, W).
            latents: z (B, Z) or ws (B, num_ws, W), in ``fake``'s graph; one
                that requires no grad is differentiated through a forward of
                its own.
            fake: ``generator(latents)`` (B, C, H, W).
            grad_scale: The generator's fp16 GradScaler scale (1.0 otherwise).
        """
        if not latents.requires_grad:  # called outside the task's contract: build the graph d fake / d latents here
            latents = latents.detach().requires_grad_(True)
            fake = generator(latents)
        if fake.ndim != 4:
            raise ValueError(f"path-length needs images (B, C, H, W), got shape {tuple(fake.shape)}")
        if latents.ndim not in (2, 3):
            raise ValueError(f"path-length needs latents z (B, Z) or ws (B, num_ws, W), got shape {tuple(latents.shape)}")
        height, width = fake.shape[-2:]
        fake32 = _at_least_fp32(fake)  # (B, C, H, W)
        y = randn_like_global(fake32) / math.sqrt(height * width)  # (B, C, H, W)
        grad = _scaled_grad((fake32 * y).sum(), latents, grad_scale)  # (B, Z) or (B, num_ws, W): each sample's J^T y
        lengths = _norm(grad, squared=False)  # (B,)
        if latents.ndim == 3:  # the mean over the ws of the squared norms, under the square root
            lengths = lengths / math.sqrt(latents.shape[1])
        a = self._update_mean(lengths.detach().mean())
        return self.pl_weight * (lengths - a).square().mean()

    def _update_mean(self, batch_mean: torch.Tensor) -> torch.Tensor:
        """Advance ``a`` by one batch mean (averaged over DDP ranks) and return it."""
        _, world = _world()
        if world > 1:
            batch_mean = batch_mean.clone()
            dist.all_reduce(batch_mean)  # equal per-rank batches: the mean of means is the global mean
            batch_mean /= world
        a = self.pl_mean.to(device=batch_mean.device, dtype=batch_mean.dtype)
        # A non-finite batch (an fp16 overflow the scaler will skip) must not poison a for good.
        self.pl_mean = torch.where(torch.isfinite(batch_mean), torch.lerp(a, batch_mean, self.decay), a)
        return self.pl_mean

    def state_dict(self) -> dict[str, Any]:
        """``{"pl_mean": a}`` as a CPU tensor (checkpoints load with ``weights_only=True``)."""
        return {"pl_mean": self.pl_mean.detach().cpu().clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``a`` from :meth:`state_dict`'s output.

        Raises:
            ValueError: ``state`` holds no scalar ``pl_mean``.
        """
        value = torch.as_tensor(state.get("pl_mean", float("nan")))
        if value.shape != () or not bool(torch.isfinite(value)):
            raise ValueError(f"path-length state needs a finite scalar pl_mean, got {state!r}")
        self.pl_mean = value.detach().clone()
