"""Parameter models of the metric components (pydantic only: cheap to import)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from ganzoo import Params


class FDDomainParams(Params):
    """Fréchet distance in the feature space of a classifier trained on the run's labelled data."""

    n: int = Field(2000, gt=1, description="Generated samples; real samples are the whole dataset up to n.")
    epochs: int = Field(8, ge=1, le=200, description="Classifier training epochs (part of the protocol).")
    classifier_seed: int = Field(0, ge=0, description="Classifier training seed (part of the protocol).")


class InceptionMetricParams(Params):
    """Common parameters of the Inception-based metrics (FID, KID, IS, PR)."""

    n: int = Field(10_000, gt=1, description="Generated samples (and real samples, up to the dataset size).")
    weights: Path | None = Field(
        None, description="Inception weight file; default: $GANZOO_WEIGHTS or the cache dir (see docs/weights.md)."
    )
    batch_size: int = Field(50, gt=0, description="Images per extractor batch.")
    allow_random: bool = Field(False, description="Random-init Inception when no weights (tests only; the protocol says 'random-init').")


class KIDParams(InceptionMetricParams):
    """Kernel Inception Distance (unbiased MMD^2, cubic polynomial kernel)."""

    subsets: int = Field(100, gt=0, description="Random subsets averaged.")
    subset_size: int = Field(1000, gt=1, description="Samples per subset (clipped to n).")


class ISParams(InceptionMetricParams):
    """Inception Score."""

    splits: int = Field(10, gt=0, description="Splits whose scores are averaged.")


class PRParams(InceptionMetricParams):
    """Improved precision and recall (k-NN manifolds)."""

    k: int = Field(3, gt=0, description="Neighbour rank that sets each manifold ball's radius.")


class TimmFDParams(Params):
    """Fréchet distance in the feature space of a timm backbone."""

    model: str = Field(..., description="timm model name, e.g. 'resnet50' or 'vit_small_patch14_dinov2'.")
    weights: Path | None = Field(None, description="Local weight file (timm state dict); required unless allow_random.")
    allow_random: bool = Field(False, description="Use random init (protocol says 'random-init'; for tests only).")
    image_size: int = Field(224, gt=15, description="Input resolution of the backbone.")
    n: int = Field(2000, gt=1, description="Generated samples (and real samples, up to the dataset size).")


class MSSSIMParams(Params):
    """MS-SSIM on a reconstruction task's prediction/target pairs (whole image only)."""

    crop_border: int = Field(0, ge=0, description="Pixels cropped from each side before measuring (BasicSR: the SR scale).")
    y_channel: bool = Field(False, description="Measure on the BT.601 Y channel instead of RGB.")
    n: int | None = Field(None, gt=0, description="Evaluate at most this many pairs (default: the whole evaluation set).")


class LPIPSParams(Params):
    """LPIPS between a reconstruction task's predictions and targets."""

    net: Literal["alex", "vgg", "squeeze"] = Field("alex", description="Backbone: alex (AlexNet), vgg (VGG16) or squeeze (SqueezeNet 1.1).")
    trunk_weights: Path | None = Field(None, description="torchvision backbone weight file (see docs/weights.md).")
    head_weights: Path | None = Field(None, description="LPIPS v0.1 linear-head file (default: the copy in the lpips package).")
    n: int | None = Field(None, gt=0, description="Evaluate at most this many pairs.")


class ReconstructionParams(MSSSIMParams):
    """PSNR/SSIM/L1 on a reconstruction task's prediction/target pairs."""

    region: Literal["full", "hole"] = Field("full", description="Whole image, or only the hole pixels (inpainting).")


class SWDParams(Params):
    """Sliced Wasserstein distance of Laplacian-pyramid patches (ProGAN); no pretrained network."""

    n: int = Field(1000, gt=1, description="Generated samples; real samples are the whole dataset up to n.")
    patches_per_image: int = Field(128, gt=0, description="Random 7x7 neighbourhoods cut from each image at each level (ProGAN: 128).")
    patch_size: int = Field(7, ge=3, le=15, description="Neighbourhood side in pixels (ProGAN: 7).")
    directions: int = Field(512, gt=0, description="Random projection directions (ProGAN: 4 x 128).")
    min_size: int = Field(16, ge=8, description="Coarsest pyramid level in pixels (ProGAN: 16).")
    seed: int = Field(0, ge=0, description="Seed of the patch positions and directions (part of the protocol).")
    normalize: Literal["real", "each"] = Field(
        "real", description="Standardise both descriptor sets by the real set's statistics (sees contrast and brightness), "
        "or each by its own as ProGAN's code does (blind to them).")
