"""FID, KID, IS and precision/recall on the FID Inception-v3; FD on any timm backbone; LPIPS.

Real-data features are computed once per protocol and cached; generated
features are computed once per evaluation and shared by every metric that
uses the same extractor (``EvalContext.extras`` is the memo).
"""

from __future__ import annotations

from typing import Any

import torch

from ganzoo.checkpoint import atomic_save
from ganzoo.evaluation import EvalContext, cache_dir
from ganzoo.metrics import (
    frechet_distance_from_features,
    inception_score,
    kernel_inception_distance,
    precision_recall,
)
from ganzoo_metrics.params import InceptionMetricParams, ISParams, KIDParams, LPIPSParams, PRParams, TimmFDParams


def _kilo(prefix: str, n: int) -> str:
    return f"{prefix}{n // 1000}k" if n % 1000 == 0 else f"{prefix}_n{n}"


def _extract_all(batches: Any, extractor: Any, outputs: tuple[str, ...]) -> dict[str, torch.Tensor]:
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in outputs}
    for images in batches:
        out = extractor.features(images) if hasattr(extractor, "features") else {outputs[0]: extractor(images)}
        for k in outputs:
            parts[k].append(out[k])
    return {k: torch.cat(v) for k, v in parts.items()}


class _FeatureMetric:
    """Shared plumbing: build the extractor once, memoise fake features, cache real ones."""

    higher_is_better = False
    outputs: tuple[str, ...] = ("2048",)

    def __init__(self, params: Any) -> None:
        self.params = params
        self._extractor: Any = None
        self._proto: dict[str, Any] = {}

    def extractor(self, ctx: EvalContext) -> Any:
        if self._extractor is None:
            self._extractor = self._build_extractor(ctx)
        return self._extractor

    def _build_extractor(self, ctx: EvalContext) -> Any:
        from ganzoo_metrics.extractors import InceptionFeatures

        key = ("inception", str(self.params.weights), self.params.allow_random, str(ctx.device))
        if key not in ctx.extras:
            ctx.extras[key] = InceptionFeatures(self.params.weights, device=ctx.device, allow_random=self.params.allow_random)
        return ctx.extras[key]

    def _ident(self, ext: Any) -> str:
        return f"{ext.name}-{ext.weights_sha256 or 'random'}"[:80]

    def features(self, ctx: EvalContext, which: str) -> dict[str, torch.Tensor]:
        ext = self.extractor(ctx)
        n = self.params.n
        if which == "fake":
            key = ("fake", self._ident(ext), n, ctx.seed)
            if key not in ctx.extras:
                ctx.extras[key] = _extract_all(ctx.fake_batches(n), ext, self.outputs_of(ext))
            return ctx.extras[key]
        n_real = min(n, len(ctx.dataset))
        path = cache_dir("features") / f"{self._ident(ext).replace(':', '_')}_{ctx.data_key}_n{n_real}.pt"
        if path.is_file():
            try:
                return torch.load(path, map_location="cpu", weights_only=True)
            except Exception:  # noqa: BLE001 - a damaged cache entry is recomputed
                pass
        feats = _extract_all(ctx.real_batches(n_real), ext, self.outputs_of(ext))
        atomic_save(feats, path)
        return feats

    def outputs_of(self, ext: Any) -> tuple[str, ...]:
        return ("2048", "logits_unbiased") if hasattr(ext, "features") else ("features",)

    def record(self, ctx: EvalContext, n_real: int, **extra: Any) -> None:
        self._proto = {**self.extractor(ctx).protocol(), "data": ctx.data_key, "n_real": n_real, "n_fake": self.params.n,
                       "seed": ctx.seed, **extra}

    def protocol(self) -> dict[str, Any]:
        return dict(self._proto)


class FID(_FeatureMetric):
    """Fréchet Inception Distance (pool3, 2048-d)."""

    def __init__(self, params: InceptionMetricParams) -> None:
        super().__init__(params)
        self.name = _kilo("fid", params.n)

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        real, fake = self.features(ctx, "real")["2048"], self.features(ctx, "fake")["2048"]
        self.record(ctx, len(real))
        return {self.name: frechet_distance_from_features(real, fake)}


class KID(_FeatureMetric):
    """Kernel Inception Distance: unbiased MMD^2, cubic kernel, seeded subsets; mean and std."""

    def __init__(self, params: KIDParams) -> None:
        super().__init__(params)
        self.name = _kilo("kid", params.n)

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        p = self.params
        real, fake = self.features(ctx, "real")["2048"], self.features(ctx, "fake")["2048"]
        mean, std = kernel_inception_distance(real, fake, subsets=p.subsets, subset_size=p.subset_size, seed=ctx.seed)
        self.record(ctx, len(real), subsets=p.subsets, subset_size=min(p.subset_size, len(real), len(fake)), kernel="(x.y/d + 1)^3")
        return {self.name: mean, f"{self.name}_std": std}


class InceptionScore(_FeatureMetric):
    """Inception Score from the 1008 unbiased logits, 10 splits."""

    higher_is_better = True

    def __init__(self, params: ISParams) -> None:
        super().__init__(params)
        self.name = _kilo("is", params.n)

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        mean, std = inception_score(self.features(ctx, "fake")["logits_unbiased"], splits=self.params.splits)
        self.record(ctx, 0, splits=self.params.splits, logits="unbiased (no bias term)")
        return {self.name: mean, f"{self.name}_std": std}


class PrecisionRecall(_FeatureMetric):
    """Improved precision and recall (Kynkäänniemi et al.), k-NN manifolds with k = 3."""

    higher_is_better = True

    def __init__(self, params: PRParams) -> None:
        super().__init__(params)
        self.name = _kilo("pr", params.n)

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        real, fake = self.features(ctx, "real")["2048"], self.features(ctx, "fake")["2048"]
        precision, recall = precision_recall(real, fake, k=self.params.k)
        self.record(ctx, len(real), k=self.params.k)
        return {f"{self.name}_precision": precision, f"{self.name}_recall": recall}


class TimmFD(_FeatureMetric):
    """Fréchet distance in the pooled features of a timm backbone (e.g. DINOv2 for FD-DINOv2)."""

    def __init__(self, params: TimmFDParams) -> None:
        super().__init__(params)
        self.name = _kilo(f"fd_{params.model.replace('-', '_')}", params.n)

    def _build_extractor(self, ctx: EvalContext) -> Any:
        from ganzoo_metrics.extractors import TimmFeatures

        p = self.params
        return TimmFeatures(p.model, p.weights, image_size=p.image_size, allow_random=p.allow_random, device=ctx.device)

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        real, fake = self.features(ctx, "real")["features"], self.features(ctx, "fake")["features"]
        self.record(ctx, len(real))
        return {self.name: frechet_distance_from_features(real, fake)}


class LPIPSMetric:
    """LPIPS distance between predictions and targets (lower is better)."""

    higher_is_better = False

    def __init__(self, params: LPIPSParams) -> None:
        self.params = params
        self.name = f"lpips_{params.net}"
        self._proto: dict[str, Any] = {}

    def protocol(self) -> dict[str, Any]:
        return dict(self._proto)

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        from ganzoo_metrics.lpips import build_lpips

        p = self.params
        net, hashes = build_lpips(p.net, trunk_path=p.trunk_weights, heads_path=p.head_weights, device=ctx.device)
        values = []
        with torch.no_grad():
            for pair in ctx.pairs(p.n):
                values.append(net.forward_uint8(pair["pred"].to(ctx.device), pair["target"].to(ctx.device)).flatten().cpu())
        per_image = torch.cat(values).double()
        self._proto = {"extractor": f"lpips-{p.net}-v0.1", "weights": hashes, "n": len(per_image)}
        return {self.name: float(per_image.mean())}
