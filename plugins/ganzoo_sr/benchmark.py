"""``sr-benchmark``: a folder of whole HR images (Set5, Set14, BSD100, Urban100 style) to evaluate on.

* The HR files are the images at the top level of ``hr`` (hidden files skipped),
  in name order, each mod-cropped to a multiple of ``scale`` (top-left kept,
  BasicSR's ``mod_crop``).
* LR: with ``lr``, the partner files matched by stem and size-checked exactly as
  ``sr-paired`` does (:func:`ganzoo_sr.paired.match_pairs`,
  :func:`ganzoo_sr.paired.modcrop_sizes`); without, made from the mod-cropped HR
  by the MATLAB-compatible bicubic (:func:`ganzoo_sr.degradation.bicubic_down`,
  rounded to 8 bits), the benchmark's own degradation whatever the run trained on.
* Images keep their own sizes: an evaluation scores runs of equal-sized images
  together and the others one by one (``ganzoo.evaluation.EvalContext.pairs``);
  ``ganzoo sr-eval`` also reports every image on its own (:attr:`SRBenchmark.names`).

Items: ``{"image": HR (C, H, W), "lr": LR (C, H/s, W/s)}``, both in [-1, 1].
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganzoo import ConfigError, DataError, DataInfo, ImageDataset
from ganzoo.evaluation import EvalContext, EvalResult, Metric, evaluate
from ganzoo_sr.degradation import bicubic_down
from ganzoo_sr.paired import match_pairs, modcrop_sizes, read_tensor, require_images
from ganzoo_sr.params import SRBenchmarkParams

__all__ = ["SRBenchmark", "build_sr_benchmark", "evaluate_per_image"]


class SRBenchmark(ImageDataset):
    """Whole benchmark images (see the module docstring). ``names`` (HR file names) and ``sizes`` (mod-cropped (H, W)) per image."""

    def __init__(self, params: SRBenchmarkParams) -> None:
        self.params = params
        self.scale, self.channels, self.limit = params.scale, params.channels, params.max_image_pixels
        files: list[tuple[Path, Path | None]]
        if params.lr is not None:
            files = list(match_pairs(params.hr, params.lr, params.scale, params.lr_suffix))
        else:
            files = [(path, None) for _, path in sorted(require_images(params.hr).items())]
        self.files = files
        self.sizes = modcrop_sizes(files, self.scale, self.limit)
        self.names = [hr.name for hr, _ in files]
        self.info = DataInfo(channels=self.channels, size=min(min(hw) for hw in self.sizes), num_classes=0)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        hr_path, lr_path = self.files[index]
        mh, mw = self.sizes[index]
        hr = read_tensor(hr_path, self.channels, self.limit)[:, :mh, :mw]  # (C, H, W), mod-cropped
        if lr_path is None:
            lr = bicubic_down(hr[None], self.scale)[0]  # (C, H/s, W/s), 8-bit levels
        else:
            lr = read_tensor(lr_path, self.channels, self.limit)  # (C, H/s, W/s)
            if tuple(lr.shape[1:]) != (mh // self.scale, mw // self.scale):  # the header said otherwise (EXIF, a file replaced since)
                raise DataError(f"pair {hr_path.name} / {lr_path.name}: decoded LR {tuple(lr.shape[1:])} does not fit HR "
                                f"{(mh, mw)} at scale {self.scale}")
        return {"image": hr, "lr": lr}


def build_sr_benchmark(params: SRBenchmarkParams) -> SRBenchmark:
    return SRBenchmark(params)


class _One(ImageDataset):
    """Item ``index`` of ``data`` as a one-item dataset."""

    def __init__(self, data: ImageDataset, index: int) -> None:
        self.data, self.index, self.info = data, index, data.info

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.data[self.index]


@dataclass
class _PerImageContext(EvalContext):
    """An evaluation context of one image: metrics that need samples of the generator or a whole set (FID, KID) are refused."""

    def fake_batches(self, n: int) -> Any:
        raise ConfigError("a per-image benchmark evaluation takes metrics of prediction/target pairs (psnr, ssim, ms-ssim, l1, "
                          "lpips); a distribution metric over generated samples (FID, KID, ...) has no per-image value")

    def real_batches(self, n: int | None = None) -> Any:
        return self.fake_batches(0)


def evaluate_per_image(task: Any, generator: nn.Module, dataset: ImageDataset, key: str, device: torch.device,
                       metrics: list[Metric]) -> tuple[list[dict[str, float]], EvalResult]:
    """Each metric on each image alone, and their means over images (BasicSR's Set5/Set14 convention).

    The same metric code as any evaluation runs on a one-image dataset per item, so
    a per-image value is exactly what ``evaluate`` reports for that image, and the
    mean equals ``evaluate`` over the whole set for metrics that average per-image
    values (all the reconstruction metrics do). Protocols are the set's, with ``n``
    the number of images.

    Returns:
        One ``{metric key: value}`` per image, in dataset order, and the means with their protocols.
    """
    t0 = time.perf_counter()
    rows, protocols = [], {}
    for i in range(len(dataset)):
        result = evaluate(_PerImageContext(task, generator, _One(dataset, i), key, device), metrics)
        rows.append(result.values)
        protocols = result.protocols
    means = {k: math.fsum(row[k] for row in rows) / len(rows) for k in rows[0]}
    protocols = {k: {**proto, "n": len(rows)} if "n" in proto else proto for k, proto in protocols.items()}
    return rows, EvalResult(means, protocols, time.perf_counter() - t0)
