"""The bicubic degradation and resampling shared by the task, the baseline and the CLI.

torch's *antialiased* bicubic (``antialias=True``) uses MATLAB ``imresize``'s
kernel (Keys, a = -0.5, widened by the scale when shrinking). Measured against
a NumPy port of ``imresize`` (BasicSR's ``matlab_functions``) on skimage's
astronaut, the two agree to 1e-13 in the interior; they differ only within about
two LR pixels of the border, where MATLAB pads symmetrically and torch
renormalises the truncated kernel (up to ~10/255 on the outermost row at x4).
Without ``antialias`` torch's bicubic uses a = -0.75 (OpenCV's), which is
another kernel altogether. The BasicSR crop border (= scale) removes most of
the border difference from the metrics, but not all: numbers are close to, not
identical with, papers that made LR with MATLAB.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["bicubic_down", "bicubic_up", "mod_crop", "quantize"]


def mod_crop(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Crop (..., H, W) so both sides are multiples of ``scale`` (keeps the top-left, as BasicSR's ``mod_crop``)."""
    h, w = x.shape[-2] - x.shape[-2] % scale, x.shape[-1] - x.shape[-1] % scale
    return x[..., :h, :w]


def quantize(x: torch.Tensor) -> torch.Tensor:
    """Clamp to [-1, 1] and round to the 256 levels of an 8-bit image (LR files are 8-bit PNGs in SR benchmarks)."""
    return torch.round((x.clamp(-1.0, 1.0) + 1.0) * 127.5) / 127.5 - 1.0


def bicubic_down(hr: torch.Tensor, scale: int, *, quantized: bool = True) -> torch.Tensor:
    """The documented degradation: (B, C, H, W) HR in [-1, 1] -> (B, C, H/s, W/s) LR.

    ``H`` and ``W`` must be multiples of ``scale`` (see :func:`mod_crop`).
    Computed in float32 at least, so autocast cannot make the LR coarser than 8 bits.
    """
    if hr.shape[-2] % scale or hr.shape[-1] % scale:
        raise ValueError(f"HR size {tuple(hr.shape[-2:])} is not a multiple of the scale {scale}; mod_crop it first")
    x = hr.float() if hr.dtype in (torch.float16, torch.bfloat16) else hr
    lr = F.interpolate(x, scale_factor=1.0 / scale, mode="bicubic", antialias=True, align_corners=False)  # (B, C, H/s, W/s)
    return quantize(lr) if quantized else lr.clamp(-1.0, 1.0)


def bicubic_up(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """(B, C, h, w) -> (B, C, h*s, w*s) with MATLAB's bicubic kernel (antialiased path, a = -0.5), clamped to [-1, 1]."""
    x = lr.float() if lr.dtype in (torch.float16, torch.bfloat16) else lr
    return F.interpolate(x, scale_factor=float(scale), mode="bicubic", antialias=True, align_corners=False).clamp(-1.0, 1.0)
