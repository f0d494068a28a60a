"""Classical inpainting baselines as parameter-free "generators", scored by the task's own eval code.

They follow the generator call ``G(masked, mask)`` and run on the CPU in
float64 (scikit-image) or uint8 (OpenCV), returning (B, C, H, W) in [-1, 1].
They have no parameters: the core builds no optimiser for them and the task
skips their G update.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["Biharmonic", "Pyramid", "Telea"]


def _to_numpy(x: torch.Tensor) -> np.ndarray:
    return x.detach().to("cpu", torch.float64).numpy()


class Biharmonic(nn.Module):
    """``skimage.restoration.inpaint_biharmonic`` per image (and per channel set), on [-1, 1] values.

    The biharmonic equation is linear, so solving on [-1, 1] equals solving on
    [0, 1] and rescaling; the known pixels are returned unchanged. With
    ``solver="sparse-lu"``, :func:`ganzoo_inpaint.fill.biharmonic_exact` instead
    (the same equation with a replicate border; the borders differ slightly).
    """

    def __init__(self, solver: str = "scikit-image") -> None:
        super().__init__()
        if solver not in ("scikit-image", "sparse-lu"):
            raise ValueError(f"solver must be 'scikit-image' or 'sparse-lu', got {solver!r}")
        self.solver = solver

    def forward(self, masked: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.solver == "sparse-lu":
            from ganzoo_inpaint.fill import biharmonic_exact

            return biharmonic_exact(masked.detach(), mask.detach()).clamp(-1, 1)  # (B, C, H, W)
        from skimage.restoration import inpaint_biharmonic

        images, holes = _to_numpy(masked), _to_numpy(mask)[:, 0] > 0.5  # (B, C, H, W), (B, H, W)
        out = np.empty_like(images)
        for i, (img, hole) in enumerate(zip(images, holes, strict=True)):
            if not hole.any():
                out[i] = img
            elif img.shape[0] == 1:
                out[i, 0] = inpaint_biharmonic(img[0], hole)
            else:
                out[i] = inpaint_biharmonic(img.transpose(1, 2, 0), hole, channel_axis=-1).transpose(2, 0, 1)
        return torch.from_numpy(out).clamp_(-1, 1).to(masked.device, masked.dtype)  # (B, C, H, W)


class Pyramid(nn.Module):
    """``ganzoo_inpaint.fill.pyramid_fill``: push-pull + ``iters`` Jacobi steps (+ ``biharmonic_iters`` CG steps), batched torch.

    Runs on the input's device and dtype; the known pixels are returned unchanged.

    Args:
        iters: Jacobi iterations after the push-pull fill.
        biharmonic_iters: Then CG steps towards the biharmonic fill (``ganzoo_inpaint.fill.biharmonic_smooth``).
    """

    def __init__(self, iters: int = 40, biharmonic_iters: int = 0) -> None:
        super().__init__()
        self.iters, self.biharmonic_iters = iters, biharmonic_iters

    def forward(self, masked: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        from ganzoo_inpaint.fill import biharmonic_smooth, pyramid_fill

        out = pyramid_fill(masked.detach(), mask.detach(), self.iters)  # (B, C, H, W)
        if self.biharmonic_iters:
            out = biharmonic_smooth(out, mask.detach(), self.biharmonic_iters)
        return out.clamp(-1, 1)


class Telea(nn.Module):
    """OpenCV's ``cv2.inpaint(..., INPAINT_TELEA)`` (Telea 2004) on uint8 images.

    Unlike biharmonic it reads pixels just inside the hole's edge, so its result
    depends on the hole's content: it gets the masked image (holes at 0, mid-grey),
    as every generator does. Not registered while OpenCV is not a dependency.

    Args:
        radius: Neighbourhood radius in pixels.
    """

    def __init__(self, radius: int = 3) -> None:
        super().__init__()
        self.radius = radius

    def forward(self, masked: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        import cv2

        images = ((masked.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()  # (B, C, H, W)
        holes = (mask.detach()[:, 0] > 0.5).to(torch.uint8).cpu().numpy()  # (B, H, W)
        out = np.empty_like(images)
        for i, (img, hole) in enumerate(zip(images, holes, strict=True)):
            src = np.ascontiguousarray(img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0))
            res = cv2.inpaint(src, hole, self.radius, cv2.INPAINT_TELEA)
            out[i] = res[None] if res.ndim == 2 else res.transpose(2, 0, 1)
        return (torch.from_numpy(out).to(masked.device).float() / 127.5 - 1.0).to(masked.dtype)  # (B, C, H, W)
