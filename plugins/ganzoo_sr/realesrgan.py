"""Real-ESRGAN's second-order degradation (Wang et al. 2021), batched in torch on the batch's device.

HR (B, C, H, W) in [0, 1] -> LR (B, C, H/s, W/s) on the 256 levels of 8 bits, twice

    blur -> random resize -> Gaussian or Poisson noise -> JPEG

(the second blur with ``second_blur_prob``), then the resize to the LR size with
the final sinc filter, before or after the second JPEG with even odds
(Real-ESRGAN's ``feed_data``). Per image: the kernels, the noise kind, level and
greyness, the JPEG quality, whether the second blur and the final sinc apply.
Per batch, as in Real-ESRGAN (a batch shares one size): the resize direction,
factor and mode (area, bilinear, bicubic) and the order of the last step.

Every random number comes from the ``torch.Generator`` given, in a fixed order,
so the same generator state gives the same LR bit for bit on one device.
Left out (see docs/super-resolution.md): the training-pair pool (``queue_size``).
:func:`usm_sharpen` makes the sharpened target of the reconstruction losses.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ganzoo_sr.jpeg import jpeg
from ganzoo_sr.kernels import apply_kernels, random_kernels, sinc
from ganzoo_sr.realesrgan_params import BlurParams, NoiseResizeJpegParams, RealESRGANParams

__all__ = ["MODES", "add_noise", "degrade", "random_resize", "usm_sharpen"]

MODES: tuple[str, ...] = ("area", "bilinear", "bicubic")
_LUMA = (0.299, 0.587, 0.114)


def _rand(g: torch.Generator, n: int, device: torch.device) -> Tensor:
    return torch.rand(n, generator=g, device=device)


def _uniform(g: torch.Generator, n: int, r: tuple[float, float], device: torch.device) -> Tensor:
    return _rand(g, n, device) * (r[1] - r[0]) + r[0]


def _choice(g: torch.Generator, probs: tuple[float, ...], device: torch.device) -> int:
    return int(torch.multinomial(torch.tensor(probs, dtype=torch.float64, device=device), 1, generator=g))


def _resize(x: Tensor, size: tuple[int, int], mode: str) -> Tensor:
    if mode == "area":
        return F.interpolate(x, size=size, mode="area")
    return F.interpolate(x, size=size, mode=mode, align_corners=False)


def random_resize(x: Tensor, g: torch.Generator, p: NoiseResizeJpegParams, base: tuple[int, int]) -> Tensor:
    """Resize the batch to ``base`` times a factor drawn as up U(1, hi), down U(lo, 1) or keep, by a random mode."""
    device = x.device
    kind = _choice(g, p.resize_prob, device)  # 0 up, 1 down, 2 keep
    u = float(_rand(g, 1, device))
    lo, hi = p.resize_range
    factor = 1.0 + u * (hi - 1.0) if kind == 0 else lo + u * (1.0 - lo) if kind == 1 else 1.0
    mode = MODES[int(torch.randint(len(MODES), (1,), generator=g, device=device))]
    size = (max(int(base[0] * factor), 1), max(int(base[1] * factor), 1))
    return _resize(x, size, mode)


def _poisson(x: Tensor, g: torch.Generator) -> Tensor:
    """Shot noise of (B, C, H, W) in [0, 1]: counts at 2^ceil(log2(distinct 8-bit levels)) per image, as Real-ESRGAN."""
    img = torch.round(x.clamp(0, 1) * 255.0) / 255.0
    levels = torch.tensor([2.0 ** math.ceil(math.log2(max(int(torch.unique(i).numel()), 1))) for i in img], device=x.device)
    vals = levels.view(-1, 1, 1, 1)
    return torch.poisson(img * vals, generator=g) / vals - img


def add_noise(x: Tensor, g: torch.Generator, p: NoiseResizeJpegParams) -> Tensor:
    """Per image: Gaussian (sigma U(noise_range) / 255) or Poisson (scale U(poisson_scale_range)), colour or grey; clipped."""
    b, c, h, w = x.shape
    device = x.device
    gaussian = _rand(g, b, device) < p.gaussian_noise_prob
    grey = (_rand(g, b, device) < p.gray_noise_prob).view(-1, 1, 1, 1)
    sigma = _uniform(g, b, p.noise_range, device).view(-1, 1, 1, 1) / 255.0
    scale = _uniform(g, b, p.poisson_scale_range, device).view(-1, 1, 1, 1)
    colour_n = torch.randn(b, c, h, w, generator=g, device=device)
    grey_n = torch.randn(b, 1, h, w, generator=g, device=device)
    gauss = torch.where(grey, grey_n, colour_n) * sigma  # (B, C, H, W); the grey field broadcasts over channels
    luma = (x * torch.tensor(_LUMA, device=device).view(1, 3, 1, 1)).sum(1, keepdim=True) if c == 3 else x[:, :1]
    shot = torch.where(grey, _poisson(luma, g), _poisson(x, g)) * scale
    return (x + torch.where(gaussian.view(-1, 1, 1, 1), gauss, shot)).clamp(0, 1)


def _blur(x: Tensor, g: torch.Generator, p: BlurParams, ksizes: tuple[int, int], apply: Tensor | None = None) -> Tensor:
    k = random_kernels(x.shape[0], g, kind_prob=p.kernel_prob, sigma=p.sigma, betag=p.betag, betap=p.betap,
                       sinc_prob=p.sinc_prob, ksizes=ksizes, device=x.device)  # (B, K, K)
    if apply is not None:  # images that skip this blur get the unit impulse
        k = torch.where(apply.view(-1, 1, 1), k, _impulse(k))
    return apply_kernels(x, k)


def _impulse(like: Tensor) -> Tensor:
    out = torch.zeros_like(like)
    out[:, like.shape[-2] // 2, like.shape[-1] // 2] = 1.0
    return out


def _jpeg(x: Tensor, g: torch.Generator, p: NoiseResizeJpegParams) -> Tensor:
    return jpeg(x.clamp(0, 1), _uniform(g, x.shape[0], p.jpeg_range, x.device))


def usm_sharpen(x: Tensor, weight: float = 0.5, size: int = 51, threshold: float = 10.0) -> Tensor:
    """Unsharp masking of (B, C, H, W) in [0, 1], as Real-ESRGAN sharpens its L1/perceptual targets (BasicSR ``USMSharp``).

    ``sharp = clip(x + weight (x - blur(x)))``, blended in by a blurred mask of the pixels
    whose residual exceeds ``threshold`` 8-bit levels, so flat areas keep their noise-free
    values. The blur is OpenCV's default Gaussian for a ``size`` kernel: sigma =
    0.3 ((size - 1) / 2 - 1) + 0.8 (8 px at 51).
    """
    sigma = 0.3 * ((size - 1) / 2 - 1) + 0.8
    ax = torch.arange(size, device=x.device, dtype=torch.float32) - (size - 1) / 2
    g1 = torch.exp(-(ax**2) / (2 * sigma**2))
    k = torch.outer(g1, g1)
    k = (k / k.sum()).expand(x.shape[0], size, size)  # (B, K, K): one kernel for all
    xf = x.float()
    residual = xf - apply_kernels(xf, k)
    mask = apply_kernels((residual.abs() * 255.0 > threshold).float(), k)  # soft mask, (B, C, H, W)
    sharp = (xf + weight * residual).clamp(0, 1)
    return (mask * sharp + (1 - mask) * xf).to(x.dtype)


def degrade(hr: Tensor, scale: int, p: RealESRGANParams, g: torch.Generator) -> Tensor:
    """(B, C, H, W) HR in [0, 1] (H, W multiples of ``scale``) -> (B, C, H/s, W/s) LR in [0, 1], 8-bit levels.

    ``g`` must live on ``hr``'s device. Computed in float32 whatever ``hr``'s dtype.
    """
    b, h, w = hr.shape[0], hr.shape[-2], hr.shape[-1]
    device = hr.device
    out_size = (h // scale, w // scale)
    x = hr.float()
    # first order
    x = _blur(x, g, p.blur1, p.kernel_size)
    x = random_resize(x, g, p.stage1, (h, w))
    x = add_noise(x, g, p.stage1)
    x = _jpeg(x, g, p.stage1)
    # second order: sizes relative to the LR size, as Real-ESRGAN
    x = _blur(x, g, p.blur2, p.kernel_size, apply=_rand(g, b, device) < p.second_blur_prob)
    x = random_resize(x, g, p.stage2, out_size)
    x = add_noise(x, g, p.stage2)
    # the final sinc (per image, else an impulse), grouped with the resize to the LR size
    lo, hi = p.kernel_size
    odd = torch.arange(lo, hi + 1, 2, device=device)
    ksize = odd[torch.randint(len(odd), (b,), generator=g, device=device)]
    cutoff = _uniform(g, b, (math.pi / 3, math.pi), device).double()
    final = sinc(cutoff, ksize, hi).float()
    final = torch.where((_rand(g, b, device) < p.final_sinc_prob).view(-1, 1, 1), final, _impulse(final))  # (B, K, K)
    mode = MODES[int(torch.randint(len(MODES), (1,), generator=g, device=device))]
    if float(_rand(g, 1, device)) < 0.5:  # [resize back + sinc] then JPEG
        x = _jpeg(apply_kernels(_resize(x, out_size, mode), final), g, p.stage2)
    else:  # JPEG then [resize back + sinc]
        x = apply_kernels(_resize(_jpeg(x, g, p.stage2), out_size, mode), final)
    return torch.round(x.clamp(0, 1) * 255.0) / 255.0  # (B, C, H/s, W/s)
