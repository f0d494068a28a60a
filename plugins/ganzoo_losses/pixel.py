"""Pixel losses between a prediction and its target, optionally restricted to a mask.

All work on images in [-1, 1] and return the mean over the counted elements. With
``mask`` (B, 1, H, W; 1 = count this pixel) the mean runs over the masked pixels
of every channel only, which is what hole/valid losses of inpainting need.
Images are compared in float32 whatever the autocast precision: a bf16
difference of nearby pixel values loses most of its bits.
"""

from __future__ import annotations

import torch

__all__ = ["L1", "MSE", "Charbonnier", "masked_mean"]


def masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``values`` (B, C, H, W) over all elements, or over the pixels where ``mask`` (B, 1, H, W) is 1."""
    if mask is None:
        return values.mean()
    if mask.ndim != 4 or mask.shape[1] != 1 or mask.shape[0] != values.shape[0] or mask.shape[2:] != values.shape[2:]:
        raise ValueError(f"mask must be (B, 1, H, W) matching {tuple(values.shape)}, got {tuple(mask.shape)}")
    mask = mask.to(values.dtype)
    counted = mask.sum() * values.shape[1]  # masked pixels x channels
    # An empty mask (no hole in this batch) contributes 0, not NaN.
    return (values * mask).sum() / counted.clamp_min(1.0)


def _pair(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    return pred.float(), target.float()


class L1:
    """Mean absolute error (BasicSR's ``L1Loss`` with ``reduction='mean'``)."""

    def __call__(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        p, t = _pair(pred, target)
        return masked_mean((p - t).abs(), mask)


class MSE:
    """Mean squared error (the PSNR-oriented objective of SRResNet)."""

    def __call__(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        p, t = _pair(pred, target)
        return masked_mean((p - t).square(), mask)


class Charbonnier:
    """Charbonnier loss ``sqrt((pred - target)^2 + eps^2)``: a differentiable L1 (LapSRN, BasicSR).

    Args:
        eps: Smoothing width, on the [-1, 1] image scale.
    """

    def __init__(self, eps: float = 1e-3) -> None:
        self.eps = eps

    def __call__(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        p, t = _pair(pred, target)
        return masked_mean(torch.sqrt((p - t).square() + self.eps**2), mask)
