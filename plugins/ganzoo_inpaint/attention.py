"""Contextual attention (Yu et al., "Generative Image Inpainting with Contextual Attention", CVPR 2018).

Every location of a feature map is rebuilt from the *known* features it most
resembles: 3x3 patches of the map are matched against every fully known 3x3
patch by cosine similarity, the scores are propagated along matching
neighbours ("fuse"), turned into weights by a scaled softmax, and the output
is the weighted sum of the chosen patches pasted back (a transposed
convolution), averaged where pasted patches overlap.

The paper matches with a ``conv2d`` whose kernels are the normalised patches
and pastes with a ``conv_transpose2d`` whose kernels are the raw patches, one
sample at a time. Here the same sums are batched: ``unfold`` + ``bmm`` is that
convolution, ``bmm`` + ``fold`` that transposed convolution, for all samples
at once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ContextualAttention"]


def _propagate(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Sum scores along the diagonal ``(x + d, x' + d)``, ``|d| <= k // 2``, of (B, h, w, h, w) scores.

    The paper convolves the (L x L) score matrix with a k x k identity kernel,
    which on row-major indices wraps around the ends of rows; indexing the
    four spatial axes directly gives the same sums without the wrap-around.
    """
    w, pad = scores.shape[2], k // 2
    padded = F.pad(scores, (pad, pad, 0, 0, pad, pad))  # x' (last axis) and x (axis 2), zeros outside
    out = padded[:, :, :w, :, :w]
    for d in range(1, k):
        out = out + padded[:, :, d : d + w, :, d : d + w]
    return out


class ContextualAttention(nn.Module):
    """Fill a feature map from its known region by patch attention (DeepFill's contextual attention).

    The foreground (what asks) and the background (what is copied) are the same
    features, as in DeepFill's generator. A background patch may be attended
    only if its whole 3x3 window at the matching resolution is known; every
    location, hole or not, gets the attention output (a known location mostly
    finds itself). A sample with no fully known patch at all gets **zeros**,
    as the paper's code gives (its weights are multiplied by the validity mask
    after the softmax); the network's other branch then carries the signal.

    Args:
        rate: Matching resolution divisor. With ``rate`` r > 1 (the paper: 2),
            patches are matched on the r x r average-pooled map and pasted back
            as 2r x 2r patches at stride r taken from the full-resolution map;
            with 1, matching and pasting use the same 3x3 patches at stride 1.
            The map's sides must be multiples of ``rate``.
        fuse_k: Size of the score propagation along matching neighbours,
            horizontally then vertically (the paper: 3); 1 turns it off.
        softmax_scale: Multiplies the (fused) cosine similarities before the
            softmax (the paper: 10).
    """

    patch = 3  # the matching patch side, as the paper

    def __init__(self, rate: int = 2, fuse_k: int = 3, softmax_scale: float = 10.0) -> None:
        super().__init__()
        if rate != 1 and (rate < 2 or rate % 2):
            raise ValueError(f"rate must be 1 or an even number, got {rate}")
        if fuse_k < 1 or fuse_k % 2 == 0:
            raise ValueError(f"fuse_k must be a positive odd number, got {fuse_k}")
        self.rate, self.fuse_k, self.softmax_scale = rate, fuse_k, softmax_scale
        # Pasting geometry: padded so that there is one pasted patch per matching location, centred on its cell.
        self.paste_kernel = self.patch if rate == 1 else 2 * rate
        self.paste_padding = 1 if rate == 1 else rate // 2

    def extra_repr(self) -> str:
        return f"rate={self.rate}, fuse_k={self.fuse_k}, softmax_scale={self.softmax_scale}"

    def attention_weights(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Weights of every background patch for every location, at the matching resolution.

        Args:
            x: Features (B, C, H, W).
            mask: (B, 1, H, W), 1 = hole; any hole pixel under a pooled cell marks the cell as hole.

        Returns:
            ``weights`` (B, L, L), foreground locations by background patches in
            row-major order of the (H / rate, W / rate) grid, each row summing to 1
            (or all 0 where the sample has no known patch), and ``valid`` (B, L), the
            patches that may be attended.
        """
        b, _, h, w = x.shape
        if h % self.rate or w % self.rate:
            raise ValueError(f"contextual attention with rate {self.rate} needs sides divisible by it, got {h}x{w}")
        if mask.shape != (b, 1, h, w):
            raise ValueError(f"mask must be (B, 1, H, W) = {(b, 1, h, w)}, got {tuple(mask.shape)}")
        small = F.avg_pool2d(x, self.rate) if self.rate > 1 else x  # (B, C, h, w)
        hole = F.max_pool2d(mask.to(x.dtype), self.rate) if self.rate > 1 else mask.to(x.dtype)  # (B, 1, h, w)
        sh, sw = small.shape[-2:]
        # Max-pooling pads with -inf, so the border counts as known, as the paper's zero-padded mask does.
        touches_hole = F.max_pool2d(hole, self.patch, stride=1, padding=self.patch // 2)  # (B, 1, h, w)
        valid = (touches_hole <= 0.5).flatten(1)  # (B, L)

        patches = F.unfold(small, self.patch, padding=self.patch // 2)  # (B, C*9, L)
        # Cosine similarity: both sides normalised (the paper's code normalises only the background; this makes
        # softmax_scale independent of the features' magnitude).
        unit = patches / patches.norm(dim=1, keepdim=True).clamp_min(1e-4)  # (B, C*9, L)
        scores = torch.bmm(unit.transpose(1, 2), unit)  # (B, L_fg, L_bg): the paper's conv2d with patch kernels
        if self.fuse_k > 1:
            s = scores.view(b, sh, sw, sh, sw)  # (B, y, x, y', x')
            s = _propagate(s, self.fuse_k)  # along x
            s = _propagate(s.permute(0, 2, 1, 4, 3), self.fuse_k).permute(0, 2, 1, 4, 3)  # along y
            scores = s.reshape(b, sh * sw, sh * sw)  # (B, L_fg, L_bg)

        # A finite fill rather than -inf: a sample with no valid patch then gets a uniform softmax (zeroed below)
        # instead of NaN in the forward and the backward pass.
        logits = (scores * self.softmax_scale).masked_fill(~valid[:, None, :], torch.finfo(scores.dtype).min)
        weights = torch.softmax(logits, dim=-1) * valid[:, None, :].to(scores.dtype)  # (B, L_fg, L_bg)
        return weights, valid

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Rebuild ``x`` (B, C, H, W) from its known patches; ``mask`` (B, 1, H, W), 1 = hole -> (B, C, H, W)."""
        h, w = x.shape[-2:]
        weights, _ = self.attention_weights(x, mask)  # (B, L, L)
        k, stride, pad = self.paste_kernel, self.rate, self.paste_padding
        raw = F.unfold(x, k, padding=pad, stride=stride)  # (B, C*k*k, L): full-resolution patches to paste
        pasted = torch.bmm(raw, weights.transpose(1, 2))  # (B, C*k*k, L_fg): each location's weighted patch
        out = F.fold(pasted, (h, w), k, padding=pad, stride=stride)  # (B, C, H, W): the paper's conv_transpose2d
        # Divide by how many pasted patches cover each pixel (4 inside the map for 4x4 at stride 2, fewer at the
        # border); the paper divides by 4 everywhere, which darkens the border.
        ones = torch.ones(1, k * k, raw.shape[-1], dtype=x.dtype, device=x.device)  # (1, k*k, L)
        overlap = F.fold(ones, (h, w), k, padding=pad, stride=stride)  # (1, 1, H, W)
        return out / overlap  # (B, C, H, W)
