"""Small datasets that ship with scikit-learn and scikit-image: no download needed."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ganzoo import TensorImageDataset
from ganzoo_data.params import DigitsParams, FacesParams

__all__ = ["build_digits", "build_faces", "resize_square", "split_rows"]

_LFW_FACES = 100  # lfw_subset(): images [0, 100) are faces, [100, 200) are non-face patches


def resize_square(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize square images bilinearly.

    Args:
        images: (N, C, S, S) float tensor.
        size: Output side.

    Returns:
        (N, C, size, size) float tensor; a no-op copy when the side already matches.
    """
    if images.shape[-1] == size:
        return images.clone()
    # antialias only matters when shrinking; bilinear weights are convex, so the range is kept.
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def build_digits(params: DigitsParams) -> TensorImageDataset:
    """Build scikit-learn's handwritten digits (1,797 8x8 images, 10 classes).

    Args:
        params: Output size, optional sample limit and class filter.

    Returns:
        A labelled 1-channel dataset in [-1, 1] with ``num_classes=10``.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.asarray(bunch.images, dtype=np.float32)  # (N, 8, 8), values 0..16
    labels = np.asarray(bunch.target, dtype=np.int64)
    rows = split_rows(len(images), params.split)  # before the class filter: one split for every class subset
    images, labels = images[rows], labels[rows]
    if params.classes is not None:
        keep = np.isin(labels, params.classes)
        images, labels = images[keep], labels[keep]
    if params.limit is not None:
        images, labels = images[: params.limit], labels[: params.limit]
    x = torch.from_numpy(images).unsqueeze(1) / 8.0 - 1.0  # (N, 1, 8, 8) in [-1, 1]
    x = resize_square(x, params.size).clamp_(-1.0, 1.0)
    return TensorImageDataset(x, torch.from_numpy(labels), num_classes=10)


def split_rows(n: int, split: str) -> slice:
    """Rows of a fixed 80/20 split by index: ``train`` the first 80 %, ``heldout`` the rest, ``all`` everything."""
    cut = (n * 4) // 5
    return {"all": slice(0, n), "train": slice(0, cut), "heldout": slice(cut, n)}[split]


def build_faces(params: FacesParams) -> TensorImageDataset:
    """Build the 100 face crops of scikit-image's LFW subset (25x25 grayscale).

    The second half of ``skimage.data.lfw_subset()`` holds non-face patches and is left out.

    Args:
        params: Output size and horizontal-flip augmentation.

    Returns:
        An unlabelled 1-channel dataset of 100 images in [-1, 1].
    """
    from skimage.data import lfw_subset

    faces = np.asarray(lfw_subset()[:_LFW_FACES], dtype=np.float32)[split_rows(_LFW_FACES, params.split)]  # (N, 25, 25) in [0, 1]
    x = torch.from_numpy(faces).unsqueeze(1) * 2.0 - 1.0  # (100, 1, 25, 25)
    x = resize_square(x, params.size).clamp_(-1.0, 1.0)
    return TensorImageDataset(x, hflip=params.hflip)
