"""Dataset contract and the resumable, shardable sampling order.

Every dataset yields dicts: ``{"image": (C, H, W) float in [-1, 1]}`` plus
``"label"`` (int64 scalar) for labelled data. Task-specific datasets add keys
(``"lr"`` for super-resolution, ``"mask"`` for inpainting) documented by the task.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import Dataset, Sampler

from ganzoo.errors import ConfigError, DataError

__all__ = [
    "DataInfo", "ImageDataset", "TensorImageDataset", "ResumableSampler", "EmptyDatasetError", "for_evaluation", "require_classes",
    "check_labels",
]


class EmptyDatasetError(DataError):
    """A dataset resolved to zero samples."""


@dataclass(frozen=True)
class DataInfo:
    """What a network needs to know about the data it is built for.

    Attributes:
        channels: Image channels (1 or 3).
        size: Square image side in pixels.
        num_classes: Number of classes for labelled data, 0 when unlabelled.
    """

    channels: int
    size: int
    num_classes: int = 0



def require_classes(info: DataInfo, model: str) -> int:
    """``info.num_classes`` for a class-conditional network, refusing unlabelled (or single-class) data.

    Args:
        info: The data the network is built for.
        model: The network's registry name, for the message.

    Raises:
        ConfigError: Fewer than 2 classes.
    """
    if info.num_classes < 2:
        raise ConfigError(
            f"{model} is class-conditional and needs labelled data with at least 2 classes, got num_classes={info.num_classes}; "
            "use a labelled dataset such as 'digits'"
        )
    return info.num_classes


def check_labels(y: torch.Tensor, batch: int, num_classes: int) -> None:
    """Check that ``y`` holds ``batch`` integer class indices, as a conditional network's forward expects.

    Raises:
        ValueError: Another shape or a floating-point or boolean dtype (a bug in the caller, not bad user input).
    """
    if y.ndim != 1 or y.shape[0] != batch:
        raise ValueError(f"expected labels of shape ({batch},), got {tuple(y.shape)}")
    if y.dtype.is_floating_point or y.dtype == torch.bool:
        raise ValueError(f"labels must be integer class indices in 0..{num_classes - 1}, got dtype {y.dtype}")

class ImageDataset(Dataset):
    """Base class: a map-style dataset of sample dicts with a :class:`DataInfo`.

    Attributes:
        info: ``DataInfo(channels, size, num_classes)``: what model builders receive.
    """

    info: DataInfo

    def __len__(self) -> int:  # pragma: no cover - abstract
        """The number of items (> 0)."""
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:  # pragma: no cover - abstract
        """Item ``index``: ``{"image": (C, H, W) float in [-1, 1]}``, plus an int64 ``"label"`` when ``info.num_classes > 0``."""
        raise NotImplementedError

    def for_evaluation(self) -> ImageDataset:
        """This dataset as evaluation must see it: no random augmentation, the same item for an index every time.

        Metrics read the dataset a run trains on (unless ``eval.data`` names
        another one); a random flip or crop there would score other images at
        every evaluation. A dataset without randomness returns itself (the
        default); one with augmentation returns a view without it.
        """
        return self


def for_evaluation(dataset: Any) -> Any:
    """``dataset.for_evaluation()`` where the dataset defines it, else the dataset itself (duck-typed plugins)."""
    view = getattr(dataset, "for_evaluation", None)
    return view() if callable(view) else dataset


class TensorImageDataset(ImageDataset):
    """Images preloaded as one tensor; the bundled datasets are small enough for this.

    Args:
        images: (N, C, H, W) float tensor in [-1, 1].
        labels: Optional (N,) int64 tensor.
        num_classes: Number of classes when ``labels`` is given.
        hflip: Randomly mirror images horizontally (uses the global torch RNG,
            which checkpoints capture, so resume stays exact).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor | None = None, *, num_classes: int = 0, hflip: bool = False) -> None:
        if images.ndim != 4 or images.shape[2] != images.shape[3]:
            raise ValueError(f"images must be (N, C, S, S), got {tuple(images.shape)}")
        if len(images) == 0:
            raise EmptyDatasetError("the dataset has no images")
        if labels is not None and len(labels) != len(images):
            raise ValueError(f"{len(labels)} labels for {len(images)} images")
        self.images = images.contiguous()
        self.labels = labels
        self.hflip = hflip
        self.info = DataInfo(channels=images.shape[1], size=images.shape[-1], num_classes=num_classes if labels is not None else 0)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        img = self.images[index]  # (C, H, W)
        if self.hflip and bool(torch.rand(()) < 0.5):
            img = img.flip(-1)
        out = {"image": img}
        if self.labels is not None:
            out["label"] = self.labels[index]
        return out

    def for_evaluation(self) -> TensorImageDataset:
        """A view without the random flip (it shares the image tensor)."""
        if not self.hflip:
            return self
        view = copy.copy(self)
        view.hflip = False
        return view


class ResumableSampler(Sampler[int]):
    """An endless epoch-seeded permutation that can start mid-epoch and shard across ranks.

    Epoch ``e`` visits ``randperm(n, generator=seed + e)``; rank ``r`` of ``w``
    takes every ``w``-th index of it, padded like ``DistributedSampler`` so every
    rank sees the same count. :meth:`seek` restores a position from the number
    of samples consumed on this rank, which is what a checkpoint stores.
    """

    def __init__(self, n: int, *, seed: int = 0, shuffle: bool = True, rank: int = 0, world_size: int = 1) -> None:
        if n <= 0:
            raise EmptyDatasetError("cannot sample from an empty dataset")
        self.n, self.seed, self.shuffle = n, seed, shuffle
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        self.offset = 0

    def _epoch_indices(self, epoch: int) -> list[int]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + epoch)
            order = torch.randperm(self.n, generator=g).tolist()
        else:
            order = list(range(self.n))
        order += order[: self.per_rank * self.world_size - self.n]
        return order[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[int]:
        while True:
            indices = self._epoch_indices(self.epoch)
            while self.offset < len(indices):
                i = indices[self.offset]
                self.offset += 1
                yield i
            self.epoch += 1
            self.offset = 0

    def __len__(self) -> int:  # an endless sampler; DataLoader only uses this for warnings
        return 2**62

    @property
    def per_rank(self) -> int:
        """Indices each rank visits per epoch."""
        return -(-self.n // self.world_size)

    def seek(self, consumed: int) -> None:
        """Position the sampler after ``consumed`` indices on this rank.

        The loop counts consumed samples itself because a loader with workers
        prefetches ahead of what training actually used.
        """
        self.epoch, self.offset = divmod(int(consumed), self.per_rank)
