"""Parameters of the Real-ESRGAN additions: the second-order degradation and the U-Net D (pydantic only: cheap to import).

Defaults are Real-ESRGAN's published training options (``options/train_realesrgan_x4plus.yml``
and ``train_realesrnet_x4plus.yml`` of xinntao/Real-ESRGAN, the same for both stages).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ganzoo import Params

__all__ = ["BlurParams", "NoiseResizeJpegParams", "RealESRGANParams", "UNetDParams"]

Range = tuple[float, float]
KindProb = tuple[float, float, float, float, float, float]
UpDownKeep = tuple[float, float, float]


def _ordered(name: str, r: tuple[float, ...]) -> None:
    if r[0] > r[1]:
        raise ValueError(f"{name} {list(r)}: the low end is above the high end")


class BlurParams(Params):
    """One blur stage: a random kernel per image (see ``ganzoo_sr.kernels``)."""

    kernel_prob: KindProb = Field(
        (0.45, 0.25, 0.12, 0.03, 0.12, 0.03),
        description="Odds of iso, aniso, generalized_iso, generalized_aniso, plateau_iso, plateau_aniso (normalised).",
    )
    sigma: Range = Field((0.2, 3.0), description="Uniform range of the kernel sigmas, pixels (second stage: [0.2, 1.5]).")
    betag: Range = Field((0.5, 4.0), description="Shape range of the generalised Gaussian (1: Gaussian).")
    betap: Range = Field((1.0, 2.0), description="Shape range of the plateau kernel.")
    sinc_prob: float = Field(0.1, ge=0.0, le=1.0, description="Chance of a sinc (ringing) kernel instead.")

    @model_validator(mode="after")
    def _check(self) -> BlurParams:
        if any(p < 0 for p in self.kernel_prob) or sum(self.kernel_prob) <= 0:
            raise ValueError("kernel_prob must be non-negative with a positive sum")
        if self.sigma[0] <= 0:
            raise ValueError("sigma must be positive")
        for name in ("sigma", "betag", "betap"):
            _ordered(name, getattr(self, name))
        if not self.betag[0] <= 1.0 <= self.betag[1] or not self.betap[0] <= 1.0 <= self.betap[1] or self.betag[0] <= 0:
            raise ValueError("betag and betap ranges must contain 1 (beta is drawn below or above 1 with even odds) and be positive")
        return self


class NoiseResizeJpegParams(Params):
    """One stage's resize, noise and JPEG (the blur is :class:`BlurParams`)."""

    resize_prob: UpDownKeep = Field((0.2, 0.7, 0.1), description="Odds of up, down, keep (second stage: [0.3, 0.4, 0.3]).")
    resize_range: Range = Field((0.15, 1.5), description="Scale range: up draws U(1, hi), down U(lo, 1) (second: [0.3, 1.2]).")
    gaussian_noise_prob: float = Field(0.5, ge=0.0, le=1.0, description="Chance of Gaussian noise; else Poisson noise.")
    noise_range: Range = Field((1.0, 30.0), description="Gaussian noise sigma range, in 8-bit levels (second: [1, 25]).")
    poisson_scale_range: Range = Field((0.05, 3.0), description="Poisson noise scale range (second: [0.05, 2.5]).")
    gray_noise_prob: float = Field(0.4, ge=0.0, le=1.0, description="Chance the noise is grey (one field for all channels).")
    jpeg_range: Range = Field((30.0, 95.0), description="JPEG quality range (1..100).")

    @model_validator(mode="after")
    def _check(self) -> NoiseResizeJpegParams:
        if any(p < 0 for p in self.resize_prob) or sum(self.resize_prob) <= 0:
            raise ValueError("resize_prob must be non-negative with a positive sum")
        if not 0 < self.resize_range[0] <= 1.0 <= self.resize_range[1] <= 8:
            raise ValueError("resize_range must satisfy 0 < low <= 1 <= high <= 8")
        if self.noise_range[0] < 0 or self.poisson_scale_range[0] < 0:
            raise ValueError("noise ranges must be non-negative")
        if self.jpeg_range[0] < 1 or self.jpeg_range[1] > 100:
            raise ValueError("jpeg_range must lie in [1, 100]")
        for name in ("resize_range", "noise_range", "poisson_scale_range", "jpeg_range"):
            _ordered(name, getattr(self, name))
        return self


def _second_blur() -> BlurParams:
    return BlurParams(sigma=(0.2, 1.5))


def _second_noise() -> NoiseResizeJpegParams:
    return NoiseResizeJpegParams(
        resize_prob=(0.3, 0.4, 0.3), resize_range=(0.3, 1.2), noise_range=(1.0, 25.0), poisson_scale_range=(0.05, 2.5)
    )


class RealESRGANParams(Params):
    """Real-ESRGAN's second-order degradation (Wang et al. 2021), made on the training device from each HR batch."""

    type: Literal["realesrgan"] = Field("realesrgan", description="Selects this degradation.")
    blur1: BlurParams = Field(default_factory=BlurParams, description="First-order blur.")
    stage1: NoiseResizeJpegParams = Field(default_factory=NoiseResizeJpegParams, description="First-order resize, noise, JPEG.")
    second_blur_prob: float = Field(0.8, ge=0.0, le=1.0, description="Chance of the second-order blur, per image.")
    blur2: BlurParams = Field(default_factory=_second_blur, description="Second-order blur.")
    stage2: NoiseResizeJpegParams = Field(default_factory=_second_noise, description="Second-order resize, noise, JPEG.")
    final_sinc_prob: float = Field(0.8, ge=0.0, le=1.0, description="Chance of the final sinc filter (cutoff U(pi/3, pi)), per image.")
    kernel_size: tuple[int, int] = Field((7, 21), description="Odd kernel sizes are drawn uniformly in this range.")
    usm_target: bool = Field(
        True,
        description="Train the reconstruction losses (L1, perceptual) against the unsharp-masked HR, the adversarial loss "
        "against the plain HR (Real-ESRGAN's l1_gt_usm, percep_gt_usm: true; gan_gt_usm: false).",
    )
    eval_seed: int = Field(
        0, ge=0, description="Seed of the fixed degradation of evaluation, preview and sample inputs (training draws from the run)."
    )

    @model_validator(mode="after")
    def _check_sizes(self) -> RealESRGANParams:
        lo, hi = self.kernel_size
        if lo % 2 == 0 or hi % 2 == 0 or not 3 <= lo <= hi <= 41:
            raise ValueError("kernel_size must be two odd sizes, 3 <= low <= high <= 41")
        return self


class UNetDParams(Params):
    """Real-ESRGAN's U-Net discriminator with spectral norm: per-pixel logits."""

    num_feat: int = Field(16, gt=0, le=512, description="Channels of the first stage; x2 per down stage to 8x (Real-ESRGAN: 64).")
    skip_connection: bool = Field(True, description="Add each encoder feature to the decoder feature of its size (Real-ESRGAN: true).")
