"""Metric components: protocol-named wrappers of ``ganzoo.metrics`` over an ``EvalContext``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch

from ganzoo.checkpoint import atomic_save
from ganzoo.errors import ConfigError
from ganzoo.evaluation import EvalContext, cache_dir
from ganzoo.metrics import StreamingMoments, frechet_distance_from_moments, l1, ms_ssim, psnr, ssim
from ganzoo_metrics.params import FDDomainParams, MSSSIMParams, ReconstructionParams, SWDParams

Extractor = Callable[[torch.Tensor], torch.Tensor]  # uint8 (B, C, H, W) -> (B, D)


def stream_moments(batches: Iterator[torch.Tensor], extract: Extractor) -> StreamingMoments:
    """Float64 streaming moments of extracted features."""
    acc = StreamingMoments()
    with torch.no_grad():
        for images in batches:
            acc.update(extract(images).double())
    return acc


def cached_moments(key: str, compute: Callable[[], StreamingMoments]) -> StreamingMoments:
    """Reference statistics are computed once per protocol and cached on disk."""
    path = cache_dir("stats") / f"{key}.pt"
    if path.is_file():
        try:
            return StreamingMoments.from_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        except Exception:  # noqa: BLE001 - a damaged cache entry is recomputed
            pass
    stats = compute()
    atomic_save(stats.state_dict(), path)
    return stats


class FDDomain:
    """Fréchet distance in the features of a classifier ganzoo trains on the run's labelled data.

    Not comparable with published FID: the extractor is trained here, on this
    dataset. Comparable between runs that share its protocol (same data, same
    classifier hash, same n).
    """

    higher_is_better = False

    def __init__(self, params: FDDomainParams) -> None:
        self.params = params
        self.name = f"fd_domain_n{params.n}"
        self._proto: dict[str, Any] = {}

    def protocol(self) -> dict[str, Any]:
        return dict(self._proto)

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        from ganzoo_metrics.domain import get_classifier

        p = self.params
        clf = get_classifier(ctx.dataset, ctx.data_key, cache_dir("classifiers"), epochs=p.epochs, seed=p.classifier_seed)
        net = clf.net.to(ctx.device)

        def extract(images: torch.Tensor) -> torch.Tensor:
            x = images.to(ctx.device).float() / 127.5 - 1.0  # uint8 -> [-1, 1], the data convention
            return net.embed(x).cpu()  # (B, 128)

        n_real = min(p.n, len(ctx.dataset))
        key = f"fd-domain_{ctx.data_key}_{clf.sha256[:16]}_n{n_real}"
        real = cached_moments(key, lambda: stream_moments(ctx.real_batches(n_real), extract))
        fake = stream_moments(ctx.fake_batches(p.n), extract)
        self._proto = {
            "extractor": "domain-classifier",
            "extractor_sha256": clf.sha256,
            "classifier_val_accuracy": round(clf.accuracy, 4),
            "data": ctx.data_key,
            "n_real": n_real,
            "n_fake": p.n,
            "resize": "none (native resolution)",
            "comparable_with_published_fid": False,
        }
        return {self.name: frechet_distance_from_moments(real, fake)}


_SWD_NORMS = {"real": "per channel, by the real set", "each": "per channel, each set by its own (ProGAN)"}


class SWD:
    """Sliced Wasserstein distance of 7x7 Laplacian-pyramid patches, per level and averaged (ProGAN's protocol).

    One deviation by default (``normalize: real``): both patch sets are
    standardised by the real set's statistics, not each by its own, so a
    washed-out generator is not normalised back to the data's contrast.

    Needs no pretrained network, so it scores unlabelled data offline (the
    bundled faces). Reported times 1e3 as in ProGAN; comparable between runs
    that share its protocol (data, n, patches, directions, seed) only.
    """

    higher_is_better = False

    def __init__(self, params: SWDParams) -> None:
        self.params = params
        self.name = f"swd_n{params.n}"
        self._proto: dict[str, Any] = {}

    def protocol(self) -> dict[str, Any]:
        return dict(self._proto)

    def _descriptors(self, batches: Iterator[torch.Tensor], levels: int, gen: torch.Generator) -> list[torch.Tensor]:
        from ganzoo.metrics.swd import pyramid_descriptors

        p, parts = self.params, []
        for images in batches:
            parts.append(pyramid_descriptors(images, levels, per_image=p.patches_per_image, size=p.patch_size, generator=gen))
        return [torch.cat(level) for level in zip(*parts, strict=True)]

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        from ganzoo.metrics.swd import pyramid_levels, sliced_wasserstein_distance

        p = self.params
        size = ctx.dataset.info.size
        levels = pyramid_levels(size, p.min_size)
        n_real = min(p.n, len(ctx.dataset))
        gen = torch.Generator().manual_seed(p.seed)
        real = self._descriptors(ctx.real_batches(n_real), levels, gen)
        fake = self._descriptors(ctx.fake_batches(p.n), levels, gen)
        per_level = sliced_wasserstein_distance(real, fake, directions=p.directions, seed=p.seed, normalize=p.normalize)
        levels_px = [size >> i for i in range(levels)]
        self._proto = {"data": ctx.data_key, "n_real": n_real, "n_fake": p.n, "levels_px": levels_px,
                       "patches_per_image": p.patches_per_image, "patch_size": p.patch_size, "directions": p.directions,
                       "seed": p.seed, "scale": 1000, "descriptor_norm": _SWD_NORMS[p.normalize]}
        out = {self.name: sum(per_level) / levels}
        out.update({f"{self.name}_{px}px": v for px, v in zip(levels_px, per_level, strict=True)})
        return out


_RECON: dict[str, tuple[Callable[..., Any], bool]] = {
    "psnr": (psnr, True),
    "ssim": (ssim, True),
    "ms-ssim": (ms_ssim, True),
    "l1": (l1, False),
}


class Reconstruction:
    """PSNR/SSIM/MS-SSIM/L1 between a task's predictions and targets, per image in float64.

    Conventions are BasicSR's: uint8 inputs, optional BT.601 Y channel,
    ``crop_border`` pixels removed on each side; see docs/metrics.md.
    """

    def __init__(self, kind: str, params: ReconstructionParams | MSSSIMParams) -> None:
        self.kind, self.params = kind, params
        fn, self.higher_is_better = _RECON[kind]
        self._fn = fn
        channel = "y" if params.y_channel else "rgb"
        self.region = getattr(params, "region", "full")
        region = "_hole" if self.region == "hole" else ""
        self.name = f"{kind.replace('-', '')}_{channel}_crop{params.crop_border}{region}"
        self._n = 0

    def protocol(self) -> dict[str, Any]:
        p = self.params
        return {"channel": "Y (BT.601)" if p.y_channel else "RGB", "crop_border": p.crop_border, "region": self.region,
                "n": self._n, "precision": "float64", "data_range": 255}

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        values = []
        for pair in ctx.pairs(self.params.n):
            mask = pair.get("mask") if self.region == "hole" else None
            if self.region == "hole" and mask is None:
                raise ConfigError(f"{self.name}: region 'hole' needs a task whose pairs carry a mask (inpainting)")
            kwargs: dict[str, Any] = {"crop_border": self.params.crop_border, "y_channel": self.params.y_channel, "reduction": "none"}
            if mask is not None:
                kwargs["mask"] = mask
            values.append(self._fn(pair["pred"], pair["target"], **kwargs))
        per_image = torch.cat(values)
        self._n = len(per_image)
        return {self.name: float(per_image.mean())}


def build_fd_domain(params: FDDomainParams) -> FDDomain:
    return FDDomain(params)


def build_swd(params: SWDParams) -> SWD:
    return SWD(params)


def reconstruction_builder(kind: str) -> Callable[[Any], Reconstruction]:
    def build(params: ReconstructionParams | MSSSIMParams) -> Reconstruction:
        return Reconstruction(kind, params)

    return build
