"""Differentiable Augmentation (Zhao, Liu, Lin, Zhu & Han, 2020).

Every transform is built from differentiable tensor ops, so the generator's
gradient flows through the augmentation to its output. Each sample of a batch
draws its own parameters from the *global* torch RNG of the tensor's device:
checkpoints capture that state, so a resumed run draws the same augmentations
as an uninterrupted one.

Policies (applied in the order given):

- ``color``: random brightness (+U(-0.5, 0.5)), saturation (x U(0, 2) around the
  per-pixel channel mean) and contrast (x U(0.5, 1.5) around the image mean).
- ``translation``: a random shift of up to 1/8 of the side per axis; pixels
  shifted in are zeros.
- ``cutout``: a zeroed square of half the side at a random centre (clipped at
  the borders).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from ganzoo_gan.params import AUGMENT_POLICIES, parse_policy

__all__ = ["diff_augment", "brightness", "saturation", "contrast", "translation", "cutout", "AUGMENT_POLICIES", "parse_policy"]


def _per_sample(x: Tensor) -> Tensor:
    """U(0, 1) of shape (B, 1, 1, 1) on ``x``'s device and dtype."""
    return torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype)


def brightness(x: Tensor) -> Tensor:
    """Add U(-0.5, 0.5) to every pixel of a sample."""
    return x + (_per_sample(x) - 0.5)


def saturation(x: Tensor) -> Tensor:
    """Scale the deviation from the per-pixel channel mean by U(0, 2)."""
    mean = x.mean(dim=1, keepdim=True)  # (B, 1, H, W)
    return (x - mean) * (_per_sample(x) * 2.0) + mean


def contrast(x: Tensor) -> Tensor:
    """Scale the deviation from the image mean by U(0.5, 1.5)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
    return (x - mean) * (_per_sample(x) + 0.5) + mean


def translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    """Shift each sample by a random integer offset of at most ``ratio`` x side per axis, zero-padded."""
    b, _, h, w = x.shape
    max_dy, max_dx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    if max_dy == 0 and max_dx == 0:
        return x
    dy = torch.randint(-max_dy, max_dy + 1, (b, 1, 1), device=x.device)
    dx = torch.randint(-max_dx, max_dx + 1, (b, 1, 1), device=x.device)
    padded = torch.nn.functional.pad(x, (max_dx, max_dx, max_dy, max_dy))  # (B, C, H + 2py, W + 2px), zeros outside
    # Output pixel (i, j) reads input (i - dy, j - dx), i.e. padded (i - dy + max_dy, j - dx + max_dx).
    rows = torch.arange(h, device=x.device).view(1, h, 1) - dy + max_dy  # (B, H, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w) - dx + max_dx  # (B, 1, W)
    batch = torch.arange(b, device=x.device).view(b, 1, 1)  # (B, 1, 1)
    # Advanced indices around a slice put their broadcast dims first: (B, H, W, C).
    return padded[batch, :, rows, cols].permute(0, 3, 1, 2)  # (B, C, H, W)


def cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """Zero a square of ``ratio`` x side centred uniformly in the image (clipped at the borders)."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    # Centres range over [0, side] for even cut sizes, [0, side) for odd ones, as in the paper's code.
    cy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device)
    top, left = cy - ch // 2, cx - cw // 2
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    hole = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)  # (B, H, W)
    return x * (~hole).unsqueeze(1).to(x.dtype)  # (B, C, H, W)


_TRANSFORMS: dict[str, tuple[Callable[[Tensor], Tensor], ...]] = {
    "color": (brightness, saturation, contrast),
    "translation": (translation,),
    "cutout": (cutout,),
}
assert set(_TRANSFORMS) == set(AUGMENT_POLICIES)  # the params' list of names is the source of truth


def diff_augment(x: Tensor, policy: str | Sequence[str]) -> Tensor:
    """Apply a DiffAugment policy to a batch.

    Args:
        x: (B, C, H, W) images.
        policy: Comma-separated names (``"color,translation,cutout"``) or a sequence of them.

    Returns:
        (B, C, H, W) augmented images, differentiable with respect to ``x``.

    Raises:
        ValueError: An unknown policy name.
    """
    names = parse_policy(policy) if isinstance(policy, str) else tuple(policy)
    for name in names:
        if name not in _TRANSFORMS:
            raise ValueError(f"unknown DiffAugment policy {name!r}; known: {', '.join(AUGMENT_POLICIES)}")
        for fn in _TRANSFORMS[name]:
            x = fn(x)
    return x
