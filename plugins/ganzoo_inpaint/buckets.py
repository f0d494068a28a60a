"""The ``inpaint-buckets`` metric: hole PSNR or hole L1 per hole-area bucket, on fixed masks (PConv/LaMa protocol).

Papers score inpainting per bucket of hole area (0-10 %, 10-20 %, ..., 50-60 %)
because a score over random holes mixes easy and hard holes in proportions
that differ between runs. Here every bucket has a fixed mask set: mask ``i`` of
bucket ``b`` is a function of (seed, b, i, image size) only, either free-form
strokes drawn into the bucket (ganzoo_inpaint.masks, which lands every mask in
its bucket) or, with ``root``, the files of a mask folder whose hole area at the
image size falls in the bucket. Image ``i`` of the evaluation data gets mask ``i``
of each bucket, so every model and every run is scored on the same pairs.

Values are named ``hole_psnr_b10-20`` (``hole_l1_...``), plus ``hole_psnr_mean``,
the mean over buckets; the protocol records the buckets, seed and mask source.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import torch

from ganzoo import ConfigError
from ganzoo.evaluation import EvalContext
from ganzoo.images import to_uint8
from ganzoo.metrics import l1, psnr
from ganzoo_inpaint.masks import generate_mask
from ganzoo_inpaint.params import BucketMetricParams, FreeFormMaskParams

__all__ = ["BucketMetric", "bucket_masks", "bucket_name"]

_FIRST_LOW = 0.001  # the 0-10 % bucket's strokes cover at least 0.1 % of the image (a hole, not nothing)


def bucket_name(bucket: tuple[float, float]) -> str:
    """``b10-20`` for (0.1, 0.2)."""
    return f"b{round(bucket[0] * 100)}-{round(bucket[1] * 100)}"


def _seed(seed: int, bucket: tuple[float, float], i: int) -> int:
    blob = f"ganzoo-inpaint-bucket:{seed}:{bucket[0]}:{bucket[1]}:{i}".encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "little")


def bucket_masks(bucket: tuple[float, float], n: int, h: int, w: int, *, seed: int = 0, root: Any = None) -> torch.Tensor:
    """(n, 1, H, W) float masks of ``bucket``: a pure function of the arguments (and the folder's files).

    Raises:
        ConfigError: ``root`` has no mask whose hole area at (h, w) lies in the bucket.
    """
    lo, hi = bucket
    if root is None:
        params = FreeFormMaskParams(hole_range=(max(lo, _FIRST_LOW), hi))
        masks = [generate_mask(params, h, w, _seed(seed, bucket, i)) for i in range(n)]
    else:
        from ganzoo_inpaint.maskfolder import mask_bank

        bank, _ = mask_bank(str(root), h, w, "area", False)
        frac = bank.mean(axis=(1, 2))
        members = bank[(frac > lo) & (frac <= hi)] if lo > 0 else bank[(frac > 0) & (frac <= hi)]
        if not len(members):
            raise ConfigError(f"inpaint-buckets: no mask in {root} has a hole of {lo:.0%}-{hi:.0%} of a {h}x{w} image")
        order = np.random.default_rng(_seed(seed, bucket, -1)).permutation(len(members))
        masks = [members[order[i % len(members)]].astype(np.float32) for i in range(n)]
    return torch.from_numpy(np.stack(masks))[:, None]


class BucketMetric:
    """Hole PSNR or L1 per hole-area bucket (see the module docstring)."""

    def __init__(self, params: BucketMetricParams) -> None:
        self.params = params
        self.higher_is_better = params.stat == "psnr"
        self.name = f"hole_{params.stat}_buckets"
        self._n = 0

    def protocol(self) -> dict[str, Any]:
        p = self.params
        return {"stat": f"hole {p.stat}", "buckets": [list(b) for b in p.buckets], "seed": p.seed, "n": self._n,
                "masks": str(p.root) if p.root else "free-form strokes (DeepFill v2) drawn into each bucket",
                "precision": "float64", "data_range": 255}

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        pair = getattr(ctx.task, "eval_pair", None)
        if pair is None:
            raise ConfigError("inpaint-buckets needs an inpainting task (one whose eval_pair takes a batch's mask)")
        data = ctx.dataset
        total = len(data) if self.params.n is None else min(self.params.n, len(data))
        fn = psnr if self.params.stat == "psnr" else l1
        out: dict[str, float] = {}
        h, w = data[0]["image"].shape[-2:]
        for bucket in self.params.buckets:
            masks = bucket_masks(bucket, total, h, w, seed=self.params.seed, root=self.params.root)  # (total, 1, H, W)
            values: list[torch.Tensor] = []
            for start in range(0, total, ctx.batch_size):
                idx = range(start, min(start + ctx.batch_size, total))
                image = torch.stack([data[i]["image"] for i in idx]).to(ctx.device)  # (B, C, H, W)
                mask = masks[start : start + len(idx)]
                with torch.no_grad():
                    res = pair(ctx.generator, {"image": image, "mask": mask.to(ctx.device)})
                per_image = fn(to_uint8(res["pred"]).cpu(), to_uint8(res["target"]).cpu(), mask=mask, reduction="none")
                assert isinstance(per_image, torch.Tensor)  # reduction="none": (B,) float64
                values.append(per_image)
            out[f"hole_{self.params.stat}_{bucket_name(bucket)}"] = float(torch.cat(values).mean())
        self._n = total
        out[f"hole_{self.params.stat}_mean"] = float(np.mean(list(out.values())))
        return out
