"""Image conversions and grids. Internally images are float in [-1, 1].

Reading user image files safely (a pixel limit checked before decoding, every
Pillow mode to [0, 1]) and writing results losslessly live in
:mod:`ganzoo.imageio`; its names are re-exported here, the module plugins import.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from PIL import Image

from ganzoo.imageio import (
    DEFAULT_MAX_PIXELS,
    MAX_PIXELS_ENV,
    ImageData,
    ImageOutputError,
    ImageReadError,
    check_image_array,
    check_output_dir,
    check_output_file,
    load_image,
    max_pixels,
    save_image,
    to_pil,
)

__all__ = [
    "to_uint8", "make_grid", "save_grid", "save_images",
    "DEFAULT_MAX_PIXELS", "MAX_PIXELS_ENV", "ImageData", "ImageOutputError", "ImageReadError", "check_image_array", "check_output_dir",
    "check_output_file", "load_image", "max_pixels", "save_image", "to_pil",
]


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) float in [-1, 1] -> uint8 in [0, 255] (rounded, clamped)."""
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def make_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2) -> torch.Tensor:
    """Tile (B, C, H, W) float images into one (C, H', W') uint8 grid, near-square by default."""
    import torchvision.utils

    nrow = nrow or max(1, math.ceil(math.sqrt(images.shape[0])))
    grid: torch.Tensor = torchvision.utils.make_grid(
        images.detach().float().cpu(), nrow=nrow, padding=padding, value_range=(-1, 1), normalize=True
    )
    return (grid * 255).round().clamp(0, 255).to(torch.uint8)  # (C, H', W')


def _to_pil(img: torch.Tensor) -> Image.Image:
    arr = img.permute(1, 2, 0).numpy()  # (H, W, C)
    return Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)


def save_grid(images: torch.Tensor, path: Path, nrow: int | None = None) -> Path:
    """Save a PNG grid of (B, C, H, W) images in [-1, 1]."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _to_pil(make_grid(images, nrow)).save(path)
    return path


def save_images(images: torch.Tensor, directory: Path, prefix: str = "sample") -> list[Path]:
    """Save one PNG per image; returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for i, img in enumerate(to_uint8(images).cpu()):
        p = directory / f"{prefix}_{i:05d}.png"
        _to_pil(img).save(p)
        out.append(p)
    return out
