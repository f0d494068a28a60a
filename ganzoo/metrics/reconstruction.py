"""Full-reference image metrics: PSNR, SSIM, MS-SSIM and L1.

Conventions follow BasicSR (the de-facto reference for super-resolution and
restoration papers) so that numbers are comparable with published tables:

* inputs are ``uint8`` RGB (or grey) tensors ``(B, C, H, W)``; ``data_range`` is 255;
* ``crop_border`` pixels are removed on every side before anything else;
* ``y_channel=True`` converts RGB to BT.601 luma ``Y = 16 + (65.481 R + 128.553 G
  + 24.966 B) / 255`` on the 0..255 scale (values in [16, 235], not rounded);
* all arithmetic is float64, per image; ``reduction="mean"`` returns the batch
  mean of the per-image values as a Python float.

An optional ``mask`` (float ``(B, 1, H, W)``, 1 = hole) gives the hole-only
variants used for inpainting: pixel-wise metrics are weighted means over the
mask, SSIM is the mask-weighted mean of the SSIM map.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["psnr", "ssim", "ms_ssim", "l1", "rgb_to_y"]

Reduction = Literal["mean", "none"]

DATA_RANGE = 255.0
_WIN_SIZE = 11
_WIN_SIGMA = 1.5
_PAD = (_WIN_SIZE - 1) // 2
_K1, _K2 = 0.01, 0.03
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
# Every scale must still hold one full 11x11 window after 4 halvings.
_MS_SSIM_MIN_SIDE = _WIN_SIZE * 2 ** (len(MS_SSIM_WEIGHTS) - 1)


def rgb_to_y(img: Tensor) -> Tensor:
    """BT.601 luma of an RGB image on the 0..255 scale, as BasicSR computes it.

    Args:
        img: ``(B, 3, H, W)`` tensor with values in [0, 255].

    Returns:
        Float64 ``(B, 1, H, W)`` tensor with values in [16, 235] (not rounded).
    """
    x = img.to(torch.float64)
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    # BasicSR scales to [0, 1], applies the matrix, adds 16/255, then multiplies
    # by 255 again; this is the same affine map written on the 0..255 scale.
    return 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0


def _check_images(img1: Tensor, img2: Tensor) -> None:
    for name, img in (("img1", img1), ("img2", img2)):
        if not isinstance(img, Tensor):
            raise ValueError(f"{name} must be a torch.Tensor, got {type(img).__name__}")
        if img.dtype != torch.uint8:
            raise ValueError(f"{name} must have dtype torch.uint8 (data_range is fixed at 255), got {img.dtype}")
        if img.ndim != 4 or img.shape[1] not in (1, 3):
            raise ValueError(f"{name} must have shape (B, C, H, W) with C in (1, 3), got {tuple(img.shape)}")
        if img.shape[0] == 0:
            raise ValueError(f"{name} is an empty batch")
    if img1.shape != img2.shape:
        raise ValueError(f"img1 and img2 must have the same shape, got {tuple(img1.shape)} and {tuple(img2.shape)}")


def _check_mask(mask: Tensor, shape: torch.Size) -> Tensor:
    if not isinstance(mask, Tensor):
        raise ValueError(f"mask must be a torch.Tensor, got {type(mask).__name__}")
    expected = (shape[0], 1, shape[2], shape[3])
    if tuple(mask.shape) != expected:
        raise ValueError(f"mask must have shape (B, 1, H, W) = {expected}, got {tuple(mask.shape)}")
    if not (mask.is_floating_point() or mask.dtype == torch.bool):
        raise ValueError(f"mask must be a float tensor with values in [0, 1] (1 = hole), got dtype {mask.dtype}")
    m = mask.to(torch.float64)
    if not torch.isfinite(m).all() or m.min() < 0 or m.max() > 1:
        raise ValueError("mask values must lie in [0, 1] (1 = hole)")
    return m


def _prepare(
    img1: Tensor,
    img2: Tensor,
    crop_border: int,
    y_channel: bool,
    mask: Tensor | None,
    reduction: str,
    min_side: int = 1,
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Validate, convert to float64 (Y if requested) and crop; shared by all metrics."""
    _check_images(img1, img2)
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    if not isinstance(crop_border, int) or isinstance(crop_border, bool) or crop_border < 0:
        raise ValueError(f"crop_border must be a non-negative int, got {crop_border!r}")
    h, w = img1.shape[2] - 2 * crop_border, img1.shape[3] - 2 * crop_border
    if min(h, w) < min_side:
        raise ValueError(
            f"crop_border={crop_border} leaves {max(h, 0)}x{max(w, 0)} pixels of a "
            f"{img1.shape[2]}x{img1.shape[3]} image; this metric needs at least {min_side}x{min_side}"
        )
    if y_channel and img1.shape[1] != 3:
        raise ValueError(f"y_channel=True needs 3-channel RGB input, got C={img1.shape[1]}")
    m = _check_mask(mask, img1.shape).to(img1.device) if mask is not None else None
    x = rgb_to_y(img1) if y_channel else img1.to(torch.float64)
    y = rgb_to_y(img2) if y_channel else img2.to(torch.float64)
    if crop_border:
        c = crop_border
        x, y = x[..., c:-c, c:-c], y[..., c:-c, c:-c]
        m = m[..., c:-c, c:-c] if m is not None else None
    return x, y, m


def _masked_mean(values: Tensor, weights: Tensor | None) -> Tensor:
    """Per-image mean over (C, H, W), weighted by a (B, 1, H, W) mask if given."""
    if weights is None:
        return values.mean(dim=(1, 2, 3))
    w = weights.expand_as(values)
    total = w.sum(dim=(1, 2, 3))
    if (total == 0).any():
        empty = torch.nonzero(total == 0).flatten().tolist()
        raise ValueError(f"mask has no hole pixels in the evaluated region for image(s) {empty}")
    return (values * w).sum(dim=(1, 2, 3)) / total


def _reduce(values: Tensor, reduction: str) -> float | Tensor:
    return values if reduction == "none" else float(values.mean().item())


def _gaussian_window(device: torch.device) -> Tensor:
    # Same normalised 1-D kernel as cv2.getGaussianKernel(11, 1.5) and scipy's
    # gaussian_filter(sigma=1.5, truncate=3.5); SSIM uses its outer product.
    coords = torch.arange(_WIN_SIZE, dtype=torch.float64, device=device) - _PAD
    g = torch.exp(-(coords**2) / (2 * _WIN_SIGMA**2))
    return g / g.sum()


def _ssim_maps(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """SSIM and contrast-structure maps over the 'valid' region, per channel.

    Returns two ``(B, C, H - 10, W - 10)`` float64 tensors.
    """
    c = x.shape[1]
    g = _gaussian_window(x.device)
    # Filter all five moment images in one grouped, separable 'valid' convolution.
    stack = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    kh = g.view(1, 1, -1, 1).expand(5 * c, 1, _WIN_SIZE, 1)
    kw = g.view(1, 1, 1, -1).expand(5 * c, 1, 1, _WIN_SIZE)
    filt = F.conv2d(F.conv2d(stack, kh, groups=5 * c), kw, groups=5 * c)
    mu_x, mu_y, e_xx, e_yy, e_xy = filt.split(c, dim=1)
    # Population (Gaussian-weighted, not N-1) moments, as in Wang et al. and
    # skimage's use_sample_covariance=False.
    var_x = e_xx - mu_x * mu_x
    var_y = e_yy - mu_y * mu_y
    cov_xy = e_xy - mu_x * mu_y
    c1 = (_K1 * DATA_RANGE) ** 2
    c2 = (_K2 * DATA_RANGE) ** 2
    cs = (2 * cov_xy + c2) / (var_x + var_y + c2)
    lum = (2 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1)
    return lum * cs, cs


def psnr(
    img1: Tensor,
    img2: Tensor,
    *,
    crop_border: int = 0,
    y_channel: bool = False,
    mask: Tensor | None = None,
    reduction: Reduction = "mean",
) -> float | Tensor:
    """Peak signal-to-noise ratio ``10 log10(255^2 / MSE)`` in dB.

    MSE is taken per image over all channels and pixels (over hole pixels only if
    ``mask`` is given). Identical images give ``inf``.

    Args:
        img1: ``uint8`` tensor ``(B, C, H, W)``, C in (1, 3), RGB order.
        img2: Tensor of the same shape and dtype.
        crop_border: Pixels removed on each side before evaluation.
        y_channel: Evaluate on BT.601 Y (needs C = 3).
        mask: Optional float ``(B, 1, H, W)`` weights in [0, 1], 1 = hole.
        reduction: ``"mean"`` for the batch mean (float), ``"none"`` for a float64
            tensor ``(B,)`` of per-image values.

    Raises:
        ValueError: On wrong dtype/shape, too large ``crop_border`` or a bad mask.
    """
    x, y, m = _prepare(img1, img2, crop_border, y_channel, mask, reduction)
    mse = _masked_mean((x - y) ** 2, m)
    # mse == 0 divides to +inf, which is the conventional PSNR of identical images.
    values = 10.0 * torch.log10(DATA_RANGE**2 / mse)
    return _reduce(values, reduction)


def ssim(
    img1: Tensor,
    img2: Tensor,
    *,
    crop_border: int = 0,
    y_channel: bool = False,
    mask: Tensor | None = None,
    reduction: Reduction = "mean",
) -> float | Tensor:
    """Structural similarity (Wang et al. 2004), BasicSR/skimage-compatible.

    Gaussian 11x11 window (sigma 1.5), K1 = 0.01, K2 = 0.03, population
    (Gaussian-weighted) variances. The SSIM map is computed only where the window
    fits entirely inside the (cropped) image, i.e. the ``(H - 10) x (W - 10)``
    'valid' region; it is averaged over that region and then over channels. This
    is exactly BasicSR's ``cv2.filter2D(...)[5:-5, 5:-5]`` and equals skimage's
    ``structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=255)``, which filters the padded image
    and then discards a 5-pixel border of the map before averaging.

    With ``mask``, the map is averaged with the mask's weights over the same
    valid region (the mask is cropped by 5 pixels per side to line up with it).

    Args:
        img1: ``uint8`` tensor ``(B, C, H, W)``, C in (1, 3), RGB order.
        img2: Tensor of the same shape and dtype.
        crop_border: Pixels removed on each side before evaluation.
        y_channel: Evaluate on BT.601 Y (needs C = 3).
        mask: Optional float ``(B, 1, H, W)`` weights in [0, 1], 1 = hole.
        reduction: ``"mean"`` (float) or ``"none"`` (float64 tensor ``(B,)``).

    Raises:
        ValueError: On wrong dtype/shape, images smaller than 11x11 after
            cropping, or a bad mask.
    """
    x, y, m = _prepare(img1, img2, crop_border, y_channel, mask, reduction, min_side=_WIN_SIZE)
    ssim_map, _ = _ssim_maps(x, y)
    if m is not None:
        m = m[..., _PAD:-_PAD, _PAD:-_PAD]
    return _reduce(_masked_mean(ssim_map, m), reduction)


def ms_ssim(
    img1: Tensor,
    img2: Tensor,
    *,
    crop_border: int = 0,
    y_channel: bool = False,
    reduction: Reduction = "mean",
) -> float | Tensor:
    """Multi-scale SSIM (Wang, Simoncelli & Bovik 2003).

    Five scales with weights ``(0.0448, 0.2856, 0.3001, 0.2363, 0.1333)``; images
    are 2x2 average-pooled (floor) between scales. Contrast-structure terms of
    scales 1-4 and the full SSIM of scale 5 are spatial means over the 'valid'
    region (as in :func:`ssim`), clamped at 0 (so fractional powers stay real, as
    pytorch-msssim does), combined as a weighted geometric mean per channel, then
    averaged over channels.

    Args:
        img1: ``uint8`` tensor ``(B, C, H, W)`` with ``H, W >= 176`` after cropping.
        img2: Tensor of the same shape and dtype.
        crop_border: Pixels removed on each side before evaluation.
        y_channel: Evaluate on BT.601 Y (needs C = 3).
        reduction: ``"mean"`` (float) or ``"none"`` (float64 tensor ``(B,)``).

    Raises:
        ValueError: On wrong dtype/shape or images too small for five scales.
    """
    x, y, _ = _prepare(img1, img2, crop_border, y_channel, None, reduction, min_side=_MS_SSIM_MIN_SIDE)
    weights = torch.tensor(MS_SSIM_WEIGHTS, dtype=torch.float64, device=x.device)
    terms = []
    for scale in range(len(MS_SSIM_WEIGHTS)):
        ssim_map, cs_map = _ssim_maps(x, y)
        last = scale == len(MS_SSIM_WEIGHTS) - 1
        terms.append((ssim_map if last else cs_map).mean(dim=(2, 3)))
        if not last:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    stacked = torch.stack(terms, dim=0).clamp_min(0.0)  # (S, B, C)
    per_channel = torch.prod(stacked ** weights.view(-1, 1, 1), dim=0)
    return _reduce(per_channel.mean(dim=1), reduction)


def l1(
    img1: Tensor,
    img2: Tensor,
    *,
    crop_border: int = 0,
    y_channel: bool = False,
    mask: Tensor | None = None,
    reduction: Reduction = "mean",
) -> float | Tensor:
    """Mean absolute error on the [0, 1] scale, i.e. ``mean(|x - y|) / 255``.

    Inpainting papers report L1 on [0, 1]-scaled images (often as a percentage),
    hence the division by ``data_range``. With ``mask`` the mean is over hole
    pixels only.

    Args:
        img1: ``uint8`` tensor ``(B, C, H, W)``, C in (1, 3), RGB order.
        img2: Tensor of the same shape and dtype.
        crop_border: Pixels removed on each side before evaluation.
        y_channel: Evaluate on BT.601 Y (needs C = 3).
        mask: Optional float ``(B, 1, H, W)`` weights in [0, 1], 1 = hole.
        reduction: ``"mean"`` (float) or ``"none"`` (float64 tensor ``(B,)``).

    Raises:
        ValueError: On wrong dtype/shape, too large ``crop_border`` or a bad mask.
    """
    x, y, m = _prepare(img1, img2, crop_border, y_channel, mask, reduction)
    return _reduce(_masked_mean((x - y).abs(), m) / DATA_RANGE, reduction)
