"""Batched JPEG compression in torch (baseline JPEG: JFIF YCbCr, 4:2:0, 8x8 DCT, IJG quality tables).

Each image of a batch gets its own quality. The steps are those of a baseline
encoder and decoder (ITU T.81 with the JFIF colour transform): RGB -> YCbCr
(full range), 2x2 chroma averaging, level shift by 128, the 8x8 DCT-II,
division by the quality-scaled tables and rounding, then the inverse path
(nearest chroma upsampling, as a simple decoder) and rounding to 8 bits.
Sides are padded to multiples of 16 by repeating the edge, as encoders do.
The tables are Annex K's, scaled as the IJG library does (``jpeg_quality_scaling``):
``s = 5000 / q`` below 50, else ``200 - 2 q``; entries ``floor((t s + 50) / 100)``
clamped to [1, 255]. Quality 100 is therefore all-ones tables (near lossless).

``differentiable=True`` replaces rounding by ``round(x) + (x - round(x))^3``
(Shin & Song 2017), whose gradient is non-zero, so a loss can see through it.
The result is close to, not bit-equal with, libjpeg (which uses integer DCTs
and fancy chroma upsampling).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["jpeg", "quality_tables"]

# ITU T.81 Annex K tables K.1 (luminance) and K.2 (chrominance), row = vertical frequency.
_LUMA = (
    (16, 11, 10, 16, 24, 40, 51, 61),
    (12, 12, 14, 19, 26, 58, 60, 55),
    (14, 13, 16, 24, 40, 57, 69, 56),
    (14, 17, 22, 29, 51, 87, 80, 62),
    (18, 22, 37, 56, 68, 109, 103, 77),
    (24, 35, 55, 64, 81, 104, 113, 92),
    (49, 64, 78, 87, 103, 121, 120, 101),
    (72, 92, 95, 98, 112, 100, 103, 99),
)
_CHROMA = (
    (17, 18, 24, 47, 99, 99, 99, 99),
    (18, 21, 26, 66, 99, 99, 99, 99),
    (24, 26, 56, 99, 99, 99, 99, 99),
    (47, 66, 99, 99, 99, 99, 99, 99),
    *((99,) * 8 for _ in range(4)),
)
_TO_YCBCR = ((0.299, 0.587, 0.114), (-0.168736, -0.331264, 0.5), (0.5, -0.418688, -0.081312))
_TO_RGB = ((1.0, 0.0, 1.402), (1.0, -0.344136, -0.714136), (1.0, 1.772, 0.0))


def _dct_matrix(device: torch.device) -> Tensor:
    """The orthonormal 8-point DCT-II matrix D[u, x]; D B D^T is T.81's FDCT of a block B."""
    u = torch.arange(8, device=device, dtype=torch.float32).view(8, 1)
    x = torch.arange(8, device=device, dtype=torch.float32).view(1, 8)
    d = torch.cos((2 * x + 1) * u * math.pi / 16) * math.sqrt(2 / 8)
    d[0] /= math.sqrt(2)
    return d


def quality_tables(quality: Tensor) -> tuple[Tensor, Tensor]:
    """(B, 8, 8) luminance and chrominance tables for qualities (B,) in [1, 100] (IJG scaling)."""
    q = quality.float().clamp(1, 100).view(-1, 1, 1)
    s = torch.where(q < 50, 5000.0 / q, 200.0 - 2.0 * q)
    luma = torch.tensor(_LUMA, dtype=torch.float32, device=q.device)
    chroma = torch.tensor(_CHROMA, dtype=torch.float32, device=q.device)
    return ((luma * s + 50) / 100).floor().clamp(1, 255), ((chroma * s + 50) / 100).floor().clamp(1, 255)


def _diff_round(x: Tensor) -> Tensor:
    r = torch.round(x)
    return r + (x - r) ** 3


def _code_plane(plane: Tensor, table: Tensor, rnd: Callable[[Tensor], Tensor]) -> Tensor:
    """Encode and decode (B, H, W) level values 0..255 (H, W multiples of 8) with (B, 8, 8) tables."""
    b, h, w = plane.shape
    d = _dct_matrix(plane.device)
    blocks = (plane - 128.0).view(b, h // 8, 8, w // 8, 8)  # (B, i, row, j, col)
    coef = torch.einsum("ua,biajc,vc->biujv", d, blocks, d)  # (B, i, u, j, v)
    t = table.view(b, 1, 8, 1, 8)
    quant = rnd(coef / t)  # torch.round or the differentiable rounding
    rec = torch.einsum("ua,biujv,vc->biajc", d, quant * t, d)  # the inverse DCT: D^T C D
    return rec.reshape(b, h, w) + 128.0


def jpeg(x: Tensor, quality: Tensor, *, differentiable: bool = False) -> Tensor:
    """JPEG-compress (B, C, H, W) images in [0, 1] (C = 3 colour, C = 1 grey) at per-image ``quality`` (B,).

    Returns the decoded images, (B, C, H, W) in [0, 1] on the 256 levels of 8 bits.
    """
    rnd: Callable[[Tensor], Tensor] = _diff_round if differentiable else torch.round
    c, h, w = x.shape[1:]
    if c not in (1, 3):
        raise ValueError(f"JPEG codes grey or RGB images, got {c} channels")
    ph, pw = -h % 16, -w % 16
    img = F.pad(x.float().clamp(0, 1) * 255.0, (0, pw, 0, ph), mode="replicate")  # (B, C, H', W'), multiples of 16
    luma_t, chroma_t = quality_tables(quality.to(x.device))
    if c == 1:
        out = _code_plane(img[:, 0], luma_t, rnd).unsqueeze(1)  # (B, 1, H', W')
    else:
        to_ycc = torch.tensor(_TO_YCBCR, device=x.device)
        ycc = torch.einsum("kc,bchw->bkhw", to_ycc, img)  # (B, 3, H', W')
        y = _code_plane(ycc[:, 0], luma_t, rnd)  # (B, H', W')
        chroma = F.avg_pool2d(ycc[:, 1:], 2) + 128.0  # (B, 2, H'/2, W'/2): 4:2:0 subsampling, shifted to 0..255
        cb = _code_plane(chroma[:, 0], chroma_t, rnd)
        cr = _code_plane(chroma[:, 1], chroma_t, rnd)
        chroma_up = F.interpolate(torch.stack([cb, cr], 1), scale_factor=2.0, mode="nearest") - 128.0  # (B, 2, H', W')
        ycc_rec = torch.cat([y.unsqueeze(1), chroma_up], 1)
        out = torch.einsum("kc,bchw->bkhw", torch.tensor(_TO_RGB, device=x.device), ycc_rec)
    out = rnd(out.clamp(0, 255)) / 255.0  # a decoder writes 8-bit samples
    return out[..., :h, :w].to(x.dtype)
