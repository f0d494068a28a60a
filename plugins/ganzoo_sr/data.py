"""``sr-photos``: scikit-image's bundled photos as a tiny, offline super-resolution dataset.

* ``train``: each item is a fresh random ``size`` x ``size`` crop of one of the
  training photos (item ``i`` comes from photo ``i mod n``; the position is drawn
  from torch's global RNG, which checkpoints capture, so resume stays exact;
  near-flat crops are redrawn). Evaluation reads the `for_evaluation` view, whose
  crop `i` is seeded by `i`, so every evaluation scores the same crops.
* ``heldout``: the fixed grid of non-overlapping tiles, centred, of photos that
  are never trained on. Deterministic, so evaluations are comparable.

Items hold only ``image`` (HR); the task makes LR by its degradation.
"""

from __future__ import annotations

import copy
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from ganzoo import DataInfo, EmptyDatasetError, ImageDataset
from ganzoo_sr.params import HELDOUT_PHOTOS, MOTORCYCLE, SKLEARN_PHOTOS, TRAIN_PHOTOS, SRPhotosParams

__all__ = ["SRPhotos", "build_sr_photos", "load_photo"]

# A crop of uniform sky or background teaches nothing and scores PSNR = inf, which
# makes a batch mean inf: redraw (a few times) crops whose std is below ~2 grey levels.
_FLAT_STD = 2.0 / 127.5
_FLAT_RETRIES = 10


@lru_cache(maxsize=32)
def load_photo(name: str) -> torch.Tensor:
    """One skimage photo as (3, H, W) float in [-1, 1]; grey photos get three equal channels, alpha is dropped.

    Cached (the photos are small and read-only here: crops and tiles are copies).
    """
    if name in SKLEARN_PHOTOS:
        from sklearn.datasets import load_sample_image

        arr = np.asarray(load_sample_image(f"{name}.jpg"))
    elif name == MOTORCYCLE:
        import skimage.data

        arr = np.asarray(skimage.data.stereo_motorcycle()[0])  # the left view; the right one is nearly the same scene
    else:
        import skimage.data

        arr = np.asarray(getattr(skimage.data, name)())
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    arr = arr[..., :3].astype(np.float32)  # (H, W, 3) uint8 values
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous() / 127.5 - 1.0


def _tiles(photo: torch.Tensor, size: int) -> list[torch.Tensor]:
    """Non-overlapping ``size`` tiles of a (3, H, W) photo, the grid centred in it."""
    _, h, w = photo.shape
    rows, cols = h // size, w // size
    top, left = (h - rows * size) // 2, (w - cols * size) // 2
    return [
        photo[:, top + r * size : top + (r + 1) * size, left + c * size : left + (c + 1) * size].clone()
        for r in range(rows)
        for c in range(cols)
    ]


class SRPhotos(ImageDataset):
    """Random training crops or fixed held-out tiles of bundled photos (see the module docstring)."""

    def __init__(self, split: str = "train", size: int = 96, samples: int = 1000, photos: tuple[str, ...] = TRAIN_PHOTOS,
                 zoom: tuple[float, float] = (1.0, 1.0), dihedral: bool = False) -> None:
        self.split, self.size, self.samples, self.zoom, self.dihedral = split, size, samples, zoom, dihedral
        self.fixed_crops = False  # set on the evaluation view: crop i is a function of i
        if split == "train":
            self.photos = [p for p in (load_photo(n) for n in photos) if min(p.shape[1:]) >= size]
            self.tiles: list[torch.Tensor] = []
        else:
            self.photos = []
            self.tiles = [t for n in HELDOUT_PHOTOS for t in _tiles(load_photo(n), size)]
        if not self.photos and not self.tiles:
            raise EmptyDatasetError(f"no photo of the {split} split is at least {size} px on each side")
        self.info = DataInfo(channels=3, size=size, num_classes=0)

    def __len__(self) -> int:
        return self.samples if self.split == "train" else len(self.tiles)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if self.split != "train":
            return {"image": self.tiles[index]}  # (3, S, S)
        photo = self.photos[index % len(self.photos)]
        _, h, w = photo.shape
        gen = torch.Generator().manual_seed(index) if self.fixed_crops else None
        lo, hi = self.zoom
        z = lo + (hi - lo) * float(torch.rand((), generator=gen)) if hi > lo else lo
        side = min(round(self.size / z), h, w)  # the photo region the crop covers
        for _ in range(_FLAT_RETRIES):
            top = int(torch.randint(h - side + 1, (), generator=gen))
            left = int(torch.randint(w - side + 1, (), generator=gen))
            crop = photo[:, top : top + side, left : left + side]  # (3, side, side)
            if float(crop.std()) > _FLAT_STD:
                break
        if side != self.size:  # a zoomed-out crop: shrink it as a camera further away would see it
            crop = F.interpolate(crop[None], size=(self.size, self.size), mode="bicubic", antialias=True, align_corners=False)[0]
            crop = crop.clamp(-1.0, 1.0)  # (3, S, S)
        if self.dihedral:  # drawn only when on, so runs without it keep their RNG stream
            k, flip = int(torch.randint(4, (), generator=gen)), int(torch.randint(2, (), generator=gen))
            crop = torch.rot90(crop, k, dims=(1, 2))
            crop = crop.flip(2) if flip else crop  # (3, S, S)
        return {"image": crop.clone()}

    def for_evaluation(self) -> SRPhotos:
        """Training crops become fixed (seeded by index), so every evaluation scores the same crops."""
        if self.split != "train":
            return self
        view = copy.copy(self)
        view.fixed_crops = True
        return view


def build_sr_photos(params: SRPhotosParams) -> SRPhotos:
    return SRPhotos(params.split, params.size, params.samples, params.photos, params.zoom, params.dihedral)
