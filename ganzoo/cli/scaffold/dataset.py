"""``--kind dataset``: a labelled synthetic dataset with an augmentation and its evaluation view."""

from __future__ import annotations

from ganzoo.cli.scaffold.kind import Kind

DATASETS = '''\
"""The dataset's parameter model and builder. torch and the dataset are imported only when it is built."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganzoo import DatasetEntry, Params
from pydantic import Field

if TYPE_CHECKING:
    from $package.shapes import Shapes


class ShapesParams(Params):
    """Parameters of the $component dataset."""

    size: int = Field(32, ge=8, le=512, description="Image side in pixels.")
    channels: int = Field(1, ge=1, le=3, description="1 (grey) or 3 (colour) channels.")
    n: int = Field(2000, gt=0, le=1_000_000, description="Number of images.")
    seed: int = Field(0, ge=0, description="Which images: the same seed gives the same dataset.")
    hflip: bool = Field(True, description="Randomly mirror training images (evaluation never does).")


def build_shapes(params: ShapesParams) -> Shapes:
    """The dataset; a ConfigError or DataError raised here is printed as one line."""
    from $package.shapes import Shapes

    return Shapes(size=params.size, channels=params.channels, n=params.n, seed=params.seed, hflip=params.hflip)


DATASETS = [
    DatasetEntry(
        name="$component",
        build=build_shapes,
        params=ShapesParams,
        description="Discs (label 0) and squares (label 1) drawn from a seed; no download.",
    ),
]
'''

SHAPES = '''\
"""A synthetic dataset: light discs and squares on a dark background, each image drawn from its index."""

from __future__ import annotations

import copy

import torch
from ganzoo import DataInfo, ImageDataset


class Shapes(ImageDataset):
    """``n`` images (C, S, S) in [-1, 1], labelled 0 (disc) or 1 (square).

    Item ``i`` is drawn from its own generator seeded by ``(seed, i)``, so reading it twice gives the same image
    and a resumed run sees the same data. The random flip uses torch's global RNG, which checkpoints capture.
    """

    def __init__(self, *, size: int, channels: int, n: int, seed: int, hflip: bool) -> None:
        self.size, self.channels, self.n, self.seed, self.hflip = size, channels, n, seed, hflip
        self.info = DataInfo(channels=channels, size=size, num_classes=2)  # what model builders receive

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        label = int(torch.randint(2, (), generator=g))
        centre = torch.rand(2, generator=g) * 0.5 + 0.25  # (2,) in [0.25, 0.75] of the side
        radius = float(torch.rand((), generator=g)) * 0.15 + 0.1
        colour = torch.rand(self.channels, 1, 1, generator=g) * 0.5 + 0.5  # (C, 1, 1): light shapes
        axis = (torch.arange(self.size) + 0.5) / self.size  # (S,) pixel centres in [0, 1]
        dy, dx = (axis[:, None] - centre[0]).abs(), (axis[None, :] - centre[1]).abs()  # (S, 1), (1, S)
        inside = torch.maximum(dy, dx) <= radius if label else dy**2 + dx**2 <= radius**2  # (S, S)
        image = inside.float() * colour * 2 - 1  # (C, S, S) in [-1, 1]
        if self.hflip and bool(torch.rand(()) < 0.5):
            image = image.flip(-1)
        return {"image": image, "label": torch.tensor(label, dtype=torch.int64)}

    def for_evaluation(self) -> Shapes:
        """The same images without the random flip: metrics and sample grids read this view."""
        view = copy.copy(self)
        view.hflip = False
        return view
'''

KIND = Kind(
    name="dataset",
    hook="ganzoo_datasets",
    entry="DatasetEntry",
    module=("datasets", "DATASETS"),
    files={"src/$package/datasets.py": DATASETS, "src/$package/shapes.py": SHAPES},
    summary="a dataset",
    spec={"data": "{type: $component, params: {size: 32, n: 2000}}"},
    tiny={"data": '{"type": "$component", "params": {"size": 16, "n": 64}}'},
    readme="- `src/$package/datasets.py`: the dataset's params and builder; `shapes.py`: the dataset (items are\n"
           "  `{\"image\": (C, H, W) in [-1, 1], \"label\"}`; `for_evaluation()` switches the augmentation off).",
)
