"""The ``torchvision`` dataset: MNIST, Fashion-MNIST, CIFAR-10 and CelebA behind the ganzoo contract."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ganzoo import DataError, DataInfo, ImageDataset
from ganzoo_data.params import TorchvisionParams

__all__ = ["build_torchvision", "DatasetFilesError", "TorchvisionImageDataset"]


class DatasetFilesError(DataError, RuntimeError):
    """A torchvision dataset's files are missing (and could not be downloaded) or corrupt; a ``RuntimeError`` too, as before."""


@dataclass(frozen=True)
class _Source:
    cls: str  # torchvision.datasets class name
    channels: int
    num_classes: int  # 0: unlabelled
    subdir: str  # where under root torchvision looks for the files


_SOURCES: dict[str, _Source] = {
    "mnist": _Source("MNIST", 1, 10, "MNIST/raw"),
    "fashion-mnist": _Source("FashionMNIST", 1, 10, "FashionMNIST/raw"),
    "cifar10": _Source("CIFAR10", 3, 10, "cifar-10-batches-py"),
    # CelebA's 40 attributes are not class labels; the dataset is used unlabelled.
    "celeba": _Source("CelebA", 3, 0, "celeba"),
}


class TorchvisionImageDataset(ImageDataset):
    """A torchvision dataset yielding ``{"image", "label"}`` dicts in [-1, 1].

    Args:
        base: The torchvision dataset (returns ``(PIL image, target)``).
        transform: Maps a PIL image to a (C, S, S) float tensor in [-1, 1].
        info: Channels, size and number of classes (0: no ``label`` key).
    """

    def __init__(self, base: Any, transform: Callable[[Any], torch.Tensor], info: DataInfo) -> None:
        self.base = base
        self.transform = transform
        self.info = info

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        img, target = self.base[index]
        out = {"image": self.transform(img)}  # (C, S, S)
        if self.info.num_classes:
            out["label"] = torch.tensor(int(target), dtype=torch.int64)
        return out


def _transform(size: int, channels: int) -> Callable[[Any], torch.Tensor]:
    from torchvision.transforms import v2

    return v2.Compose(
        [
            v2.ToImage(),
            v2.Resize(size, antialias=True),  # shorter side -> size
            v2.CenterCrop(size),
            v2.ToDtype(torch.float32, scale=True),  # [0, 1]
            v2.Normalize([0.5] * channels, [0.5] * channels),  # [-1, 1]
        ]
    )


def _short(err: BaseException) -> str:
    lines = [ln.strip() for ln in str(err).strip().splitlines() if ln.strip()]
    msg = f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__
    return msg if len(msg) <= 200 else msg[:197] + "..."


def _unavailable(params: TorchvisionParams, src: _Source, present: bool, err: BaseException) -> str:
    expected = params.root / src.subdir
    head = f"torchvision dataset {params.name!r} ({params.split} split) could not be loaded from {params.root}: "
    if present:
        what = f"the files under {expected} are incomplete or corrupt ({_short(err)})"
    elif params.download:
        what = f"the files are missing and the download failed ({_short(err)})"
        if params.name == "celeba":
            what += "; CelebA is served from Google Drive, which often refuses scripted downloads"
    else:
        what = f"no files were found at {expected} and download is false"
    return (
        f"{head}{what}. Place the files manually at {expected} (the layout torchvision.datasets.{src.cls} expects), "
        "download them on a machine with network access and copy the root over, "
        "or point the 'image-folder' dataset at a directory of images."
    )


def build_torchvision(params: TorchvisionParams) -> TorchvisionImageDataset:
    """Wrap a torchvision dataset, downloading it when allowed and missing.

    Args:
        params: Dataset name, root, split, output size and download switch.

    Returns:
        A dataset of (C, size, size) images in [-1, 1], labelled except for CelebA.

    Raises:
        DatasetFilesError: The files are missing (and could not be downloaded) or corrupt,
            with one message saying where they were looked for and how to provide them.
    """
    import torchvision.datasets as tvd

    src = _SOURCES[params.name]
    cls = getattr(tvd, src.cls)
    if params.name == "celeba":
        kwargs: dict[str, Any] = {"split": params.split, "target_type": []}
    else:
        kwargs = {"train": params.split == "train"}
    expected = Path(params.root) / src.subdir
    # A failed download leaves empty folders behind; only files mean the data was provided.
    present = expected.is_dir() and any(p.is_file() for p in expected.rglob("*"))
    try:
        base = cls(root=str(params.root), download=params.download, **kwargs)
    except Exception as err:  # noqa: BLE001 - torchvision raises URLError, OSError, RuntimeError, ...
        # The short reason is in the message; the chained torchvision traceback would only add noise.
        raise DatasetFilesError(_unavailable(params, src, present, err)) from None
    info = DataInfo(channels=src.channels, size=params.size, num_classes=src.num_classes)
    return TorchvisionImageDataset(base, _transform(params.size, src.channels), info)
