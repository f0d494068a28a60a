"""Adaptive discriminator augmentation (StyleGAN2-ADA; Karras, Aittala, Hellsten, Laine, Lehtinen & Aila, 2020).

Two parts:

* :func:`ada_augment`: a reduced but honest version of the paper's pipeline,
  in differentiable torch ops on a batch. Each op is applied to each sample
  independently with probability ``p``. Included (7 of the paper's 18
  transformations): x-flip, 90-degree rotations, integer translation (up to
  1/8 of the side, reflect padding), isotropic scaling (log2-normal, std 0.2,
  bilinear with reflection), and for 3-channel images brightness (+N(0, 0.2)),
  contrast (x lognormal(0, 0.5 ln 2) around the image mean) and saturation
  (x lognormal(0, ln 2) around the per-pixel channel mean, a stand-in for the
  luma axis). Left out: arbitrary rotation (both), anisotropic scaling,
  fractional translation, luma flip, hue rotation, the four image-space
  filter bands, additive noise and cutout. Randomness comes from the global
  torch RNG of the tensor's device, which checkpoints capture, so a resumed run
  draws the same augmentations as an uninterrupted one.
* :class:`AdaController`: holds ``p`` and the sum of ``sign(D(x_real))`` since
  the last adjustment; every ``interval`` D updates, :func:`ada_adjust` moves
  ``p`` by ``sign(r_t - target) * batch * interval / (kimg * 1000)``.

DDP is out of scope: each rank would adjust ``p`` from its own logits (the
paper all-reduces them), so ranks could drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["ada_adjust", "ada_augment", "AdaController"]


def ada_adjust(p: float, r_t: float, *, target: float, batch_size: int, interval: int, kimg: float) -> float:
    """The paper's update of the augmentation probability.

    Args:
        p: The current probability.
        r_t: ``E[sign(D(x_real))]`` over the real logits since the last update.
        target: The value of ``r_t`` the heuristic aims for (0.6 in the paper).
        batch_size: Real images per D update.
        interval: D updates between adjustments.
        kimg: Thousands of real images over which ``p`` can go from 0 to 1.

    Returns:
        ``clamp(p + sign(r_t - target) * batch_size * interval / (kimg * 1000), 0, 1)``.
    """
    diff = r_t - target
    sign = (diff > 0) - (diff < 0)
    return min(max(p + sign * (batch_size * interval) / (kimg * 1000.0), 0.0), 1.0)


def _mask(x: Tensor, p: float) -> Tensor:
    """(B,) bool: which samples an op applies to, each with probability ``p``."""
    return torch.rand(x.shape[0], device=x.device) < p


def _where(mask: Tensor, a: Tensor, b: Tensor) -> Tensor:
    return torch.where(mask.view(-1, 1, 1, 1), a, b)


def xflip(x: Tensor, p: float) -> Tensor:
    """Mirror horizontally the samples chosen with probability ``p``."""
    return _where(_mask(x, p), x.flip(3), x)


def rotate90(x: Tensor, p: float) -> Tensor:
    """Rotate the chosen samples by a uniform multiple of 90 degrees (square images only)."""
    mask = _mask(x, p)
    k = torch.randint(0, 4, (x.shape[0],), device=x.device)
    if x.shape[2] != x.shape[3]:
        return x
    out = x
    for i in (1, 2, 3):
        out = _where(mask & (k == i), torch.rot90(x, i, dims=(2, 3)), out)
    return out


def translate(x: Tensor, p: float, ratio: float = 0.125) -> Tensor:
    """Shift the chosen samples by integer offsets of at most ``ratio`` x side per axis, with reflect padding."""
    b, _, h, w = x.shape
    mask = _mask(x, p)
    max_dy, max_dx = min(int(h * ratio + 0.5), h - 1), min(int(w * ratio + 0.5), w - 1)
    dy = torch.randint(-max_dy, max_dy + 1, (b,), device=x.device) * mask  # (B,), 0 where not chosen
    dx = torch.randint(-max_dx, max_dx + 1, (b,), device=x.device) * mask
    if max_dy == 0 and max_dx == 0:
        return x
    padded = F.pad(x, (max_dx, max_dx, max_dy, max_dy), mode="reflect")  # (B, C, H + 2py, W + 2px)
    rows = torch.arange(h, device=x.device).view(1, h, 1) - dy.view(b, 1, 1) + max_dy  # (B, H, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w) - dx.view(b, 1, 1) + max_dx  # (B, 1, W)
    batch = torch.arange(b, device=x.device).view(b, 1, 1)
    return padded[batch, :, rows, cols].permute(0, 3, 1, 2)  # (B, C, H, W)


def scale(x: Tensor, p: float, std: float = 0.2) -> Tensor:
    """Zoom the chosen samples by ``2 ** N(0, std)`` about the centre (bilinear, reflection outside)."""
    b = x.shape[0]
    mask = _mask(x, p)
    s = torch.exp2(torch.randn(b, device=x.device) * std)  # (B,)
    theta = torch.zeros(b, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = theta[:, 1, 1] = (1.0 / s).to(x.dtype)  # output pixel reads input at coordinate / s
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    zoomed = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return _where(mask, zoomed, x)


def _lognormal(x: Tensor, std: float) -> Tensor:
    return torch.exp(torch.randn(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype) * std)


def brightness(x: Tensor, p: float, std: float = 0.2) -> Tensor:
    """Add N(0, std) to every pixel of the chosen samples."""
    mask = _mask(x, p)
    return x + torch.randn(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype) * std * mask.view(-1, 1, 1, 1)


def contrast(x: Tensor, p: float, std: float = 0.5 * math.log(2)) -> Tensor:
    """Scale the chosen samples' deviation from their mean by lognormal(0, std)."""
    mask = _mask(x, p)
    c = _lognormal(x, std)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
    return _where(mask, (x - mean) * c + mean, x)


def saturation(x: Tensor, p: float, std: float = math.log(2)) -> Tensor:
    """Scale the chosen samples' deviation from the per-pixel channel mean by lognormal(0, std)."""
    mask = _mask(x, p)
    s = _lognormal(x, std)
    mean = x.mean(dim=1, keepdim=True)  # (B, 1, H, W)
    return _where(mask, (x - mean) * s + mean, x)


GEOMETRIC: tuple[Callable[[Tensor, float], Tensor], ...] = (xflip, rotate90, translate, scale)
COLOUR: tuple[Callable[[Tensor, float], Tensor], ...] = (brightness, contrast, saturation)


def ada_augment(x: Tensor, p: float) -> Tensor:
    """Apply the pipeline, each op to each sample with probability ``p``.

    Args:
        x: (B, C, H, W) images; the colour ops apply only when C is 3.
        p: Probability in [0, 1]; 0 returns ``x`` itself and draws nothing.

    Returns:
        (B, C, H, W) augmented images, differentiable with respect to ``x``.
    """
    if p <= 0.0:
        return x
    for op in GEOMETRIC:
        x = op(x, p)
    if x.shape[1] == 3:
        for op in COLOUR:
            x = op(x, p)
    return x


class AdaController:
    """The augmentation probability and the real-logit statistics since its last update.

    Args:
        target: ``r_t`` aimed for.
        interval: D updates between adjustments.
        kimg: Thousands of real images for ``p`` to go from 0 to 1.
        p_init: The starting probability.
    """

    def __init__(self, *, target: float = 0.6, interval: int = 4, kimg: float = 500.0, p_init: float = 0.0) -> None:
        self.target, self.interval, self.kimg = target, interval, kimg
        self.p = float(p_init)
        self.sign_sum = 0.0  # sum of sign(real logit) since the last adjustment
        self.count = 0  # real logits summed
        self.images = 0  # real images scored
        self.updates = 0  # D updates recorded

    def record(self, logits: Tensor, images: int) -> None:
        """Add one D update's real logits (detached; non-finite ones count as 0)."""
        signs = torch.sign(torch.nan_to_num(logits.detach().float(), nan=0.0))
        self.sign_sum += float(signs.sum())
        self.count += signs.numel()
        self.images += images
        self.updates += 1

    def maybe_update(self) -> bool:
        """Adjust ``p`` once ``interval`` D updates were recorded; True if it did."""
        if self.updates < self.interval or self.count == 0:
            return False
        r_t = self.sign_sum / self.count
        # batch * interval is the real images scored since the last adjustment
        self.p = ada_adjust(self.p, r_t, target=self.target, batch_size=self.images, interval=1, kimg=self.kimg)
        self.sign_sum, self.count, self.images, self.updates = 0.0, 0, 0, 0
        return True

    def recording(self, critic: Callable[[Tensor], Tensor], real: Tensor) -> Callable[[Tensor], Tensor]:
        """``critic`` that records the logits of its first call on ``real`` itself (the D loss's, not a penalty's)."""
        seen = [False]

        def wrapped(x: Tensor) -> Tensor:
            logits = critic(x)
            if x is real and not seen[0]:
                seen[0] = True
                self.record(logits, real.shape[0])
            return logits

        return wrapped

    def state_dict(self) -> dict[str, Any]:
        return {"p": self.p, "sign_sum": self.sign_sum, "count": self.count, "images": self.images, "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.p, self.sign_sum = float(state["p"]), float(state["sign_sum"])
        self.count, self.images, self.updates = int(state["count"]), int(state["images"]), int(state["updates"])
