"""``sr-paired``: HR and LR image folders the user already has (BasicSR's paired image dataset).

* Files are matched by stem: ``0001.png`` in ``hr`` pairs with ``0001<lr_suffix>.*``
  in ``lr``; with the default empty suffix, ``0001.*`` and then DIV2K's ``0001x<scale>.*``.
  Every HR file needs its LR partner and every LR file its HR one; otherwise a
  :class:`~ganzoo.DataError` lists the orphans (up to 10).
* Sizes come from the headers up front: the LR side must be exactly the HR side
  // scale (the HR is mod-cropped to a multiple of the scale first, as BasicSR does).
* Pixels are read on access with the shared safe reader (:func:`ganzoo.images.load_image`:
  pixel limit before decoding, every mode to [0, 1]), converted to ``channels``.
* With ``crop``: BasicSR's paired random crop, its position drawn on the LR grid
  and the HR crop at ``scale`` times it, from torch's global RNG (checkpoints
  capture it, so resume stays exact); the ``for_evaluation`` view seeds crop ``i``
  by ``i``, so every evaluation scores the same crops. Without ``crop``: whole
  images, which must then all share one size (batches stack them).

Items: ``{"image": HR (C, H, W), "lr": LR (C, H/s, W/s)}``, both in [-1, 1].
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ganzoo import DataError, DataInfo, EmptyDatasetError, ImageDataset
from ganzoo.images import load_image
from ganzoo_sr.params import SRPairedParams

__all__ = [
    "EXTENSIONS", "SRPaired", "build_sr_paired", "header_size", "image_files", "match_pairs", "modcrop_sizes", "read_tensor",
    "require_images",
]

EXTENSIONS = frozenset({".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp"})
_SHOWN = 10  # names listed in an error message


def _listing(names: list[str]) -> str:
    more = f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
    return ", ".join(names[:_SHOWN]) + more


def image_files(folder: Path) -> dict[str, Path]:
    """Stem -> file of the image files at the top level of ``folder`` (hidden files skipped); a stem twice is an error."""
    if not folder.is_dir():  # the spec checked it, unless a finished run's spec was read back (checks_inputs)
        raise DataError(f"folder {str(folder)!r} does not exist or is not a directory")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in EXTENSIONS)
    out: dict[str, Path] = {}
    dupes = []
    for p in files:
        if p.stem in out:
            dupes.append(f"{out[p.stem].name}/{p.name}")
        out[p.stem] = p
    if dupes:
        raise DataError(f"{folder}: several files share a stem, so pairs are ambiguous: {_listing(dupes)}")
    return out


def match_pairs(hr_dir: Path, lr_dir: Path, scale: int, lr_suffix: str = "") -> list[tuple[Path, Path]]:
    """``(hr, lr)`` files matched by stem, in HR name order (see the module docstring for the naming).

    Raises:
        EmptyDatasetError: No image file in ``hr_dir``.
        DataError: A folder is missing, a stem is ambiguous, or a file has no partner.
    """
    hr, lr = require_images(hr_dir), image_files(lr_dir)
    pairs, used, orphans = [], set(), []
    for stem, path in sorted(hr.items()):
        tries = [stem + lr_suffix] if lr_suffix else [stem, f"{stem}x{scale}"]
        partner = next((t for t in tries if t in lr), None)
        if partner is None:
            orphans.append(path.name)
            continue
        used.add(partner)
        pairs.append((path, lr[partner]))
    lonely = sorted(p.name for s, p in lr.items() if s not in used)
    if orphans or lonely:
        naming = f"'<stem>{lr_suffix}'" if lr_suffix else f"'<stem>' or '<stem>x{scale}'"
        parts = []
        if orphans:
            parts.append(f"{len(orphans)} HR file(s) in {hr_dir} have no LR partner named {naming} in {lr_dir}: {_listing(orphans)}")
        if lonely:
            parts.append(f"{len(lonely)} LR file(s) in {lr_dir} have no HR partner in {hr_dir}: {_listing(lonely)}")
        raise DataError("; ".join(parts) + " (every image needs its partner; see lr_suffix)")
    return pairs


def require_images(folder: Path) -> dict[str, Path]:
    """:func:`image_files`, refusing a folder without any.

    Raises:
        EmptyDatasetError: No image file at the top level of ``folder``.
    """
    found = image_files(folder)
    if not found:
        raise EmptyDatasetError(f"no image files ({', '.join(sorted(EXTENSIONS))}) at the top level of {folder}")
    return found


def header_size(path: Path, limit: int | None) -> tuple[int, int]:
    """(H, W) from the file's header, without decoding; refuses files over ``limit`` pixels."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our limit governs, checked below
            with Image.open(path) as im:
                w, h = im.size
    except Image.DecompressionBombError as exc:
        raise DataError(f"cannot read image {path}: possible decompression bomb ({exc})") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise DataError(f"cannot read image {path}: {type(exc).__name__}: {exc} (is it a valid image file?)") from None
    if limit is not None and w * h > limit:
        raise DataError(f"image {path} is {w}x{h} = {w * h:,} pixels, above max_image_pixels={limit:,} "
                        "(decompression-bomb guard); raise max_image_pixels if the file is trusted")
    return h, w


def modcrop_sizes(pairs: Sequence[tuple[Path, Path | None]], scale: int, limit: int | None) -> list[tuple[int, int]]:
    """The HR (H, W) of each ``(hr, lr)`` pair mod-cropped to ``scale``, from the headers; an LR, when given, must be that / scale.

    Raises:
        DataError: An image is unreadable, over ``limit``, smaller than ``scale``, or an LR of the wrong size.
    """
    sizes = []
    s = scale
    for hr, lr in pairs:
        h, w = header_size(hr, limit)
        mh, mw = h - h % s, w - w % s  # BasicSR mod-crops HR to the scale
        if not mh or not mw:
            raise DataError(f"{hr}: HR {w}x{h} is smaller than the scale {s}")
        if lr is not None:
            lh, lw = header_size(lr, limit)
            if (lh, lw) != (mh // s, mw // s):
                raise DataError(f"pair {hr.name} / {lr.name}: LR is {lw}x{lh} but HR {w}x{h} (mod-cropped {mw}x{mh}) "
                                f"needs {mw // s}x{mh // s} at scale {s}")
        sizes.append((mh, mw))
    return sizes


def read_tensor(path: Path, channels: int, limit: int | None) -> torch.Tensor:
    """One file as (channels, H, W) float in [-1, 1] through the safe reader."""
    data = load_image(path, limit=limit if limit is not None else 2**62)
    rgb = data.colour()  # (H, W, C) in [0, 1], alpha dropped
    if channels == 1 and rgb.shape[2] == 3:
        rgb = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)[:, None]  # BT.601 luma, (H, W, 1)
    elif channels == 3 and rgb.shape[2] == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))) * 2.0 - 1.0  # (C, H, W)


class SRPaired(ImageDataset):
    """Paired HR/LR files (see the module docstring). ``pairs`` and ``sizes`` (mod-cropped HR (H, W)) are per pair."""

    def __init__(self, params: SRPairedParams) -> None:
        self.params = params
        self.scale, self.crop, self.channels, self.limit = params.scale, params.crop, params.channels, params.max_image_pixels
        self.pairs = match_pairs(params.hr, params.lr, params.scale, params.lr_suffix)
        self.sizes = modcrop_sizes(self.pairs, self.scale, self.limit)
        for (hr, lr), (mh, mw) in zip(self.pairs, self.sizes, strict=True):
            if self.crop is not None and self.crop > min(mh, mw):
                raise DataError(f"pair {hr.name} / {lr.name}: HR {mw}x{mh} (mod-cropped) is smaller than crop {self.crop}; lower crop")
        if self.crop is None and len(set(self.sizes)) > 1:
            shown = sorted({f"{w}x{h}" for h, w in self.sizes})
            raise DataError(f"{params.hr}: whole images of different sizes ({_listing(shown)}) cannot be batched; "
                            "set crop (e.g. crop: 128) for random paired crops")
        self.fixed_crops = False  # set on the evaluation view: crop i is a function of i
        size = self.crop if self.crop is not None else min(self.sizes[0])
        self.info = DataInfo(channels=self.channels, size=size, num_classes=0)

    def __len__(self) -> int:
        return self.params.samples or len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        k = index % len(self.pairs)
        hr_path, lr_path = self.pairs[k]
        mh, mw = self.sizes[k]
        hr = read_tensor(hr_path, self.channels, self.limit)[:, :mh, :mw]  # (C, H, W), mod-cropped
        lr = read_tensor(lr_path, self.channels, self.limit)  # (C, H/s, W/s)
        s = self.scale
        if tuple(lr.shape[1:]) != (mh // s, mw // s):  # the header said otherwise (EXIF, a file replaced since)
            got = tuple(lr.shape[1:])
            raise DataError(f"pair {hr_path.name} / {lr_path.name}: decoded LR {got} does not fit HR {(mh, mw)} at scale {s}")
        if self.crop is None:
            return {"image": hr, "lr": lr}
        c = self.crop // s
        gen = torch.Generator().manual_seed(index) if self.fixed_crops else None
        top = int(torch.randint(lr.shape[1] - c + 1, (), generator=gen))  # on the LR grid, so the pair aligns
        left = int(torch.randint(lr.shape[2] - c + 1, (), generator=gen))
        return {
            "image": hr[:, top * s : (top + c) * s, left * s : (left + c) * s].clone(),  # (C, crop, crop)
            "lr": lr[:, top : top + c, left : left + c].clone(),  # (C, crop/s, crop/s)
        }

    def for_evaluation(self) -> SRPaired:
        """Random crops become fixed (seeded by index), so every evaluation scores the same crops."""
        if self.crop is None:
            return self
        view = copy.copy(self)
        view.fixed_crops = True
        return view


def build_sr_paired(params: SRPairedParams) -> SRPaired:
    return SRPaired(params)

