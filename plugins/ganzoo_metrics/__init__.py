"""Built-in metrics: offline domain-classifier FD and SWD, Inception FID/KID/IS/PR, timm FD, PSNR/SSIM/MS-SSIM/L1.

Hook implementations only; networks and math are imported when a metric is built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ganzoo import MetricEntry, hookimpl
from ganzoo_metrics.params import (
    FDDomainParams,
    InceptionMetricParams,
    ISParams,
    KIDParams,
    LPIPSParams,
    MSSSIMParams,
    PRParams,
    ReconstructionParams,
    SWDParams,
    TimmFDParams,
)


def _lazy(module: str, attr: str, *args: Any) -> Callable[[Any], Any]:
    def build(params: Any) -> Any:
        import importlib

        factory = getattr(importlib.import_module(f"ganzoo_metrics.{module}"), attr)
        return factory(*args)(params) if args else factory(params)

    return build


@hookimpl
def ganzoo_metrics() -> Iterable[MetricEntry]:
    recon = "per image in float64, BasicSR conventions (uint8, optional BT.601 Y, crop border)"
    return [
        MetricEntry(name="fd-domain", build=_lazy("components", "build_fd_domain"), params=FDDomainParams,
                    description="Offline Fréchet distance in a classifier ganzoo trains on the run's labelled data (not published FID)."),
        MetricEntry(name="swd", build=_lazy("components", "build_swd"), params=SWDParams,
                    description="Sliced Wasserstein distance of Laplacian-pyramid 7x7 patches (ProGAN), x1e3; no pretrained network."),
        MetricEntry(name="fid", build=_lazy("inception_metrics", "FID"), params=InceptionMetricParams,
                    description="Fréchet Inception Distance (TF-2015 Inception pool3, TF1 resize); weights from a local file."),
        MetricEntry(name="kid", build=_lazy("inception_metrics", "KID"), params=KIDParams,
                    description="Kernel Inception Distance: unbiased MMD^2, cubic kernel, seeded subsets."),
        MetricEntry(name="is", build=_lazy("inception_metrics", "InceptionScore"), params=ISParams,
                    description="Inception Score from unbiased logits, 10 splits."),
        MetricEntry(name="pr", build=_lazy("inception_metrics", "PrecisionRecall"), params=PRParams,
                    description="Improved precision and recall on Inception features (k-NN manifolds, k=3)."),
        MetricEntry(name="fd-timm", build=_lazy("inception_metrics", "TimmFD"), params=TimmFDParams,
                    description="Fréchet distance in any timm backbone's features (e.g. DINOv2); weights from a local file."),
        MetricEntry(name="lpips", build=_lazy("inception_metrics", "LPIPSMetric"), params=LPIPSParams,
                    description="LPIPS (AlexNet/VGG16/SqueezeNet + v0.1 linear heads) between predictions and targets."),
        MetricEntry(name="psnr", build=_lazy("components", "reconstruction_builder", "psnr"), params=ReconstructionParams,
                    description=f"PSNR in dB, {recon}."),
        MetricEntry(name="ssim", build=_lazy("components", "reconstruction_builder", "ssim"), params=ReconstructionParams,
                    description=f"SSIM (Gaussian 11/1.5, population covariance), {recon}."),
        MetricEntry(name="ms-ssim", build=_lazy("components", "reconstruction_builder", "ms-ssim"), params=MSSSIMParams,
                    description=f"MS-SSIM (5 scales), {recon}."),
        MetricEntry(name="l1", build=_lazy("components", "reconstruction_builder", "l1"), params=ReconstructionParams,
                    description=f"Mean absolute error on the [0, 1] scale, {recon}."),
    ]
