"""Masks from a folder of mask images (white = hole), resized to the image, paired at random by a seed.

The irregular-mask sets papers evaluate on (NVIDIA's, LaMa's) are folders of
PNG files. Each file is read once per image size (cached), as grey, resized
(area averaging or nearest neighbour) and thresholded at mid-grey, so a mask is
binary whatever its file's size or anti-aliasing.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from ganzoo_inpaint.masks import MaskError
from ganzoo_inpaint.params import FolderMaskParams

__all__ = ["EXTENSIONS", "folder_mask", "list_masks", "mask_bank", "read_mask_file"]

EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")


def list_masks(root: Path) -> list[Path]:
    """Mask files under ``root`` (subfolders included, hidden names skipped), sorted by relative path."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        found += [Path(dirpath) / f for f in filenames if not f.startswith(".") and os.path.splitext(f)[1].lower() in EXTENSIONS]
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def read_mask_file(path: Path, h: int, w: int, *, resize: str = "area", invert: bool = False) -> np.ndarray:
    """(H, W) bool holes from a mask image: grey, resized to (h, w), white (>= mid-grey) = hole (or known with ``invert``)."""
    with Image.open(path) as im:
        grey = im.convert("L")
    if grey.size != (w, h):
        grey = grey.resize((w, h), Image.Resampling.BOX if resize == "area" else Image.Resampling.NEAREST)
    hole = np.asarray(grey) >= 128
    return ~hole if invert else hole


@lru_cache(maxsize=8)
def mask_bank(root: str, h: int, w: int, resize: str, invert: bool) -> tuple[np.ndarray, tuple[str, ...]]:
    """Every mask file under ``root`` at (h, w): (N, H, W) bool and the file names (relative). Cached per size.

    Raises:
        MaskError: No readable mask file in the folder.
    """
    files = list_masks(Path(root))
    masks, names = [], []
    for path in files:
        try:
            masks.append(read_mask_file(path, h, w, resize=resize, invert=invert))
        except (OSError, ValueError):  # an unreadable file is skipped, as image-folder does
            continue
        names.append(path.relative_to(root).as_posix())
    if not masks:
        raise MaskError(f"mask folder {root} holds no readable mask image ({', '.join(EXTENSIONS)})")
    return np.stack(masks), tuple(names)


def _in_range(params: FolderMaskParams, h: int, w: int) -> np.ndarray:
    bank, _ = mask_bank(str(params.root), h, w, params.resize, params.invert)
    frac = bank.mean(axis=(1, 2))
    lo, hi = params.hole_range
    keep = bank[(frac >= lo) & (frac <= hi)]
    if not len(keep):
        raise MaskError(f"none of the {len(bank)} masks in {params.root} has a hole of {lo:.0%}-{hi:.0%} of a {h}x{w} image "
                        "(hole_range; white = hole, or set invert: true)")
    return keep


def folder_mask(params: FolderMaskParams, h: int, w: int, seed: int) -> np.ndarray:
    """(H, W) float32 mask in {0, 1}: the folder's mask (within ``hole_range``) that ``seed`` picks."""
    keep = _in_range(params, h, w)
    pick = int(np.random.default_rng(seed).integers(len(keep)))
    return keep[pick].astype(np.float32)
