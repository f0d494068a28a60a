"""``--kind metric``: a metric with a protocol-encoding name (the ``ganzoo.evaluation.Metric`` protocol)."""

from __future__ import annotations

from ganzoo.cli.scaffold.kind import Kind

METRICS = '''\
"""The metric's parameter model and builder. torch and the metric are imported only when it is built."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganzoo import MetricEntry, Params
from pydantic import Field

if TYPE_CHECKING:
    from $package.scores import PixelStatsGap


class PixelStatsParams(Params):
    """Parameters of the $component metric."""

    n: int = Field(1000, ge=2, le=1_000_000, description="Generated images, and real images up to the dataset size.")


def build_metric(params: PixelStatsParams) -> PixelStatsGap:
    """The metric; ganzoo calls its compute(ctx) at every evaluation."""
    from $package.scores import PixelStatsGap

    return PixelStatsGap(params.n)


METRICS = [
    MetricEntry(
        name="$component",
        build=build_metric,
        params=PixelStatsParams,
        description="Gap of per-channel pixel mean and spread, real vs generated (lower is better).",
    ),
]
'''

SCORES = '''\
"""The metric: how far the generated images' pixel statistics are from the real ones'."""

from __future__ import annotations

from typing import Any

import torch
from ganzoo.evaluation import EvalContext


def _stats(batches: Any) -> torch.Tensor:
    """(2, C): per-channel mean and standard deviation of uint8 batches (B, C, H, W), in [0, 1]."""
    total = total_sq = None
    count = 0
    for batch in batches:
        x = batch.double() / 255  # (B, C, H, W)
        s, sq = x.sum(dim=(0, 2, 3)), (x**2).sum(dim=(0, 2, 3))  # (C,) each
        total, total_sq = (s, sq) if total is None else (total + s, total_sq + sq)
        count += x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / count
    return torch.stack([mean, (total_sq / count - mean**2).clamp_min(0).sqrt()])


class PixelStatsGap:
    """The ganzoo.evaluation.Metric protocol: ``name``, ``higher_is_better``, ``protocol()``, ``compute(ctx)``."""

    higher_is_better = False

    def __init__(self, n: int) -> None:
        self.n = n
        # The name encodes everything that changes the number: scores with one name are comparable.
        self.name = f"${metric_key}_n{n}"

    def protocol(self) -> dict[str, Any]:
        """Stored next to every value; bump the version when the computation changes."""
        return {"metric": "$component", "version": 1, "n": self.n}

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        """Mean absolute gap of the per-channel mean and spread of ``n`` generated and real images."""
        fake, real = _stats(ctx.fake_batches(self.n)), _stats(ctx.real_batches(self.n))
        return {self.name: float((fake - real).abs().mean())}
'''

KIND = Kind(
    name="metric",
    hook="ganzoo_metrics",
    entry="MetricEntry",
    module=("metrics", "METRICS"),
    files={"src/$package/metrics.py": METRICS, "src/$package/scores.py": SCORES},
    summary="a metric",
    spec={"eval.metrics": "{type: $component, params: {n: 1000}}"},
    tiny={"eval": '{"metrics": [{"type": "$component", "params": {"n": 16}}]}'},
    readme="- `src/$package/metrics.py`: the metric's params and builder; `scores.py`: the metric (a protocol-encoding\n"
           "  `name`, `higher_is_better`, `protocol()`, `compute(ctx)` on uint8 batches from the evaluation context).",
    checks=(
        "# the metric ran at the end of training, and its value was stored with its protocol",
        'scores = json.loads(RunDir(run_dir).eval.read_text())["metrics"]',
        'assert scores["${metric_key}_n16"]["protocol"]["metric"] == "$component"',
        'assert scores["${metric_key}_n16"]["value"] >= 0',
    ),
    imports=("import json", "from ganzoo import RunDir"),
)
