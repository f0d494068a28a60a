"""Filling images of any size: reflection padding to the network's multiple, and a downscaled fill for large images.

A network trained on 64-128 px crops has a receptive field of that order: at
full resolution it cannot see across a hole drawn on a 1000 px photo, and it
costs memory in proportion to the pixels. So above ``max_side`` (long side;
``ganzoo inpaint --max-side``, default 512) the image is downscaled to it
(area averaging; a low-resolution pixel with any hole pixel under it is hole),
filled there, and the prediction is upsampled (bicubic) into the full-resolution
holes. Known pixels are always the input's, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["DEFAULT_MAX_SIDE", "fill_any_size", "pad_reflect"]

DEFAULT_MAX_SIDE = 512  # = ganzoo.inpainting_api.DEFAULT_MAX_SIDE (the plugin may not import that module; a test checks)

Fill = Callable[[Tensor, Tensor], Tensor]


def pad_reflect(x: Tensor, multiple: int) -> Tensor:
    """Pad bottom/right so both sides divide by ``multiple``, mirroring the image (replicating where it is too small to mirror)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)


def _resized(fill: Fill, image: Tensor, mask: Tensor, size: tuple[int, int], multiple: int) -> Tensor:
    """Fill a copy of ``image`` resized to ``size``; the prediction comes back at the input's size (not composited)."""
    small = F.interpolate(image, size=size, mode="area")  # (1, C, h, w)
    hole = (F.interpolate(mask, size=size, mode="area") > 0).to(mask.dtype)  # any hole pixel under it: hole
    pred = _padded(fill, small, hole, multiple)
    return F.interpolate(pred, size=tuple(image.shape[-2:]), mode="bicubic", align_corners=False).clamp(-1, 1)


def _padded(fill: Fill, image: Tensor, mask: Tensor, multiple: int) -> Tensor:
    h, w = image.shape[-2:]
    return fill(pad_reflect(image, multiple), pad_reflect(mask, multiple))[..., :h, :w]


def fill_any_size(fill: Fill, net: nn.Module, image: Tensor, mask: Tensor, max_side: int) -> Tensor:
    """Fill ``image`` (1, C, H, W) under ``mask`` (1, 1, H, W) with ``fill(image, mask)``, whatever H and W.

    Args:
        fill: The task's fill of a network-sized batch (composites the known pixels).
        net: The generator (its ``multiple`` and ``fixed_side``, when it has them, set the geometry).
        image: (1, C, H, W) in [-1, 1].
        mask: (1, 1, H, W), 1 = hole.
        max_side: Long side above which the fill runs on a downscaled copy; 0 = never.

    Returns:
        (1, C, H, W): the prediction in the holes, ``image`` elsewhere (exactly).
    """
    multiple = int(getattr(net, "multiple", 1))
    fixed = getattr(net, "fixed_side", None)  # the context encoder: one input size
    h, w = image.shape[-2:]
    if fixed is not None and (h, w) != (fixed, fixed):
        pred = _resized(fill, image, mask, (int(fixed), int(fixed)), multiple)
    elif max_side and max(h, w) > max_side:
        scale = max_side / max(h, w)
        pred = _resized(fill, image, mask, (max(1, round(h * scale)), max(1, round(w * scale))), multiple)
    else:
        pred = _padded(fill, image, mask, multiple)
    return torch.where(mask > 0.5, pred.to(image.dtype), image)
