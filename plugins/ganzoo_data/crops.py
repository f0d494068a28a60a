"""Random square crops of images of any size, and ``inpaint-photos``: the bundled photos and faces as crops.

Item ``i`` of a :class:`RandomCrops` is a fresh random crop of the image its
``source(i)`` returns (image ``i mod n`` for a folder; optionally mirrored): positions are drawn from torch's global RNG,
which the training loop seeds (DataLoader workers get per-worker seeds derived
from it, and checkpoints capture it), so a run's crops are reproducible. The
evaluation view (:meth:`RandomCrops.for_evaluation`) seeds crop ``i`` by ``i``
and never mirrors, so every evaluation scores the same crops.

``inpaint-photos`` trains on random crops of scikit-image's photos,
scikit-learn's two (china, flower) and LFW faces 0-79 (25 px, upscaled to
the crop, together taking one slot of the rotation: item ``i`` with
``i mod 13 == 12`` is face ``(i // 13) mod 80``, so they are 1/13 of the crops), and holds out chelsea and coffee (a fixed centred grid of
non-overlapping tiles) and faces 80-99, which the train split never shows.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ganzoo import DataInfo, EmptyDatasetError, ImageDataset
from ganzoo_data.params import InpaintPhotosParams

__all__ = ["HELDOUT_PHOTOS", "TRAIN_PHOTOS", "RandomCrops", "build_inpaint_photos", "fit_shorter_side", "grid_tiles", "load_photo"]

# The split of sr-photos (ganzoo_sr keeps its own copy: plugins do not import each other), plus scikit-learn's two.
TRAIN_PHOTOS: tuple[str, ...] = (
    "astronaut", "rocket", "immunohistochemistry", "hubble_deep_field", "camera", "brick", "grass", "gravel", "moon", "coins",
    "china", "flower",
)
HELDOUT_PHOTOS: tuple[str, ...] = ("chelsea", "coffee")
_SKLEARN = {"china": "china.jpg", "flower": "flower.jpg"}
_LFW_FACES, _FACES_TRAIN = 100, 80  # lfw_subset(): [0, 100) are faces; the train split is faces 0-79, as `faces`


@lru_cache(maxsize=32)
def load_photo(name: str) -> torch.Tensor:
    """One bundled photo as (3, H, W) uint8; grey photos get three equal channels, alpha is dropped. Cached, read-only."""
    if name in _SKLEARN:
        from sklearn.datasets import load_sample_image

        arr = np.asarray(load_sample_image(_SKLEARN[name]))
    else:
        import skimage.data

        arr = np.asarray(getattr(skimage.data, name)())
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    return torch.from_numpy(np.ascontiguousarray(arr[..., :3].astype(np.uint8).transpose(2, 0, 1)))


def to_channels(image: torch.Tensor, channels: int) -> torch.Tensor:
    """(3, H, W) uint8 to ``channels`` (1: ITU-R 601 luma, as Pillow's "L")."""
    if channels == 3 or image.shape[0] == 1:
        return image
    luma = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
    return (image.float() * luma).sum(0, keepdim=True).round().clamp(0, 255).to(torch.uint8)


def fit_shorter_side(image: torch.Tensor, low: int, high: int) -> torch.Tensor:
    """Resize (C, H, W) uint8 so its shorter side lies in [low, high] (bicubic, antialiased); unchanged when it already does."""
    short = min(image.shape[-2:])
    target = high if short > high else low if short < low else short
    if target == short:
        return image
    scale = target / short
    size = (max(target, round(image.shape[-2] * scale)), max(target, round(image.shape[-1] * scale)))
    out = F.interpolate(image[None].float(), size=size, mode="bicubic", align_corners=False, antialias=True)[0]
    return out.round().clamp(0, 255).to(torch.uint8)


def grid_tiles(image: torch.Tensor, size: int) -> list[torch.Tensor]:
    """Non-overlapping ``size`` tiles of a (C, H, W) image, the grid centred in it."""
    _, h, w = image.shape
    rows, cols = h // size, w // size
    top, left = (h - rows * size) // 2, (w - cols * size) // 2
    return [image[:, top + r * size : top + (r + 1) * size, left + c * size : left + (c + 1) * size].clone()
            for r in range(rows) for c in range(cols)]


class RandomCrops(ImageDataset):
    """``samples`` random ``crop`` x ``crop`` crops of images (C, H, W) uint8, each side >= ``crop``.

    Args:
        source: The image item ``i`` crops (e.g. image ``i mod n`` of a list, or a decoder of it).
        crop: Crop side.
        samples: Items per epoch.
        channels: 1 or 3.
        hflip: Mirror each crop with probability 1/2 (not in the evaluation view).
        with_mask: ``source`` returns an extra last plane, a mask (>= 128 = hole): items carry it as ``mask``
            (1, S, S) in {0, 1}, cropped and mirrored with the image.
    """

    def __init__(self, source: Callable[[int], torch.Tensor], *, crop: int, samples: int, channels: int,
                 hflip: bool = False, with_mask: bool = False) -> None:
        self.source, self.crop, self.samples, self.hflip, self.with_mask = source, crop, samples, hflip, with_mask
        self.fixed = False  # the evaluation view: crop i is a function of i
        self.files: list[Path] = []  # an image folder's kept files and skipped (path, reason), as its other datasets
        self.skipped: list[tuple[str, str]] = []
        self.info = DataInfo(channels=channels, size=crop)

    def __len__(self) -> int:
        return self.samples

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < self.samples:
            raise IndexError(index)
        image = self.source(index)  # (C, H, W) uint8
        _, h, w = image.shape
        gen = torch.Generator().manual_seed(index) if self.fixed else None
        top = int(torch.randint(h - self.crop + 1, (), generator=gen))
        left = int(torch.randint(w - self.crop + 1, (), generator=gen))
        raw = image[:, top : top + self.crop, left : left + self.crop]  # (C[+1], S, S) uint8
        if self.hflip and not self.fixed and bool(torch.rand(()) < 0.5):
            raw = raw.flip(-1)
        if self.with_mask:
            return {"image": raw[:-1].float().div(127.5).sub(1.0), "mask": (raw[-1:] >= 128).float()}
        return {"image": raw.float().div(127.5).sub(1.0)}  # (C, S, S) in [-1, 1]

    def for_evaluation(self) -> RandomCrops:
        """Crops seeded by index, never mirrored: every evaluation scores the same crops."""
        view = copy.copy(self)
        view.fixed = True
        return view


class _Tiles(ImageDataset):
    def __init__(self, tiles: list[torch.Tensor], channels: int, size: int) -> None:
        if not tiles:
            raise EmptyDatasetError(f"no held-out photo is at least {size} px on each side")
        self.tiles = tiles
        self.info = DataInfo(channels=channels, size=size)

    def __len__(self) -> int:
        return len(self.tiles)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"image": self.tiles[index].float().div(127.5).sub(1.0)}  # (C, S, S) in [-1, 1]


def _faces(rows: slice, side: int) -> list[torch.Tensor]:
    """LFW faces (25x25 grey) as (3, side, side) uint8, upscaled bicubically."""
    from skimage.data import lfw_subset

    faces = torch.from_numpy(np.asarray(lfw_subset()[:_LFW_FACES], dtype=np.float32)[rows])[:, None]  # (N, 1, 25, 25) in [0, 1]
    big = F.interpolate(faces, size=(side, side), mode="bicubic", align_corners=False).clamp(0, 1)
    return list((big * 255).round().to(torch.uint8).expand(-1, 3, -1, -1).contiguous())


def build_inpaint_photos(params: InpaintPhotosParams) -> ImageDataset:
    """Train: random crops of the training photos (and faces 0-79); heldout: fixed tiles of chelsea and coffee (and faces 80-99)."""
    c, s = params.channels, params.size
    if params.split == "train":
        photos = [to_channels(fit_shorter_side(load_photo(n), s, 10**6), c) for n in TRAIN_PHOTOS]
        faces = [to_channels(f, c) for f in _faces(slice(0, _FACES_TRAIN), s)] if params.faces else []
        slots = len(photos) + bool(faces)  # all faces share one slot: 80 blurry faces must not outnumber 12 photos

        def source(i: int) -> torch.Tensor:
            slot = i % slots
            return photos[slot] if slot < len(photos) else faces[(i // slots) % len(faces)]

        return RandomCrops(source, crop=s, samples=params.samples, channels=c, hflip=params.hflip)
    tiles = [to_channels(t, c) for n in HELDOUT_PHOTOS for t in grid_tiles(load_photo(n), s)]
    if params.faces:
        tiles += [to_channels(f, c) for f in _faces(slice(_FACES_TRAIN, _LFW_FACES), s)]
    return _Tiles(tiles, c, s)
