"""Sliced Wasserstein distance of Laplacian-pyramid patches (Karras et al. 2018, ProGAN).

A distribution metric that needs no pretrained network: each image is split into
a Laplacian pyramid, random 7x7 neighbourhoods are cut from every level, and the
distance between the real and generated patch distributions is the mean 1-D
Wasserstein distance over random projections. Fine levels measure texture and
edges, coarse ones layout. Comparable between runs under one protocol only.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=torch.float64) / 16.0


def _blur(x: Tensor, gain: float = 1.0) -> Tensor:
    """5x5 binomial filter with reflected borders, as OpenCV's pyrDown/pyrUp use."""
    k = torch.outer(_BINOMIAL, _BINOMIAL).to(x) * gain
    c = x.shape[1]
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), k.expand(c, 1, 5, 5), groups=c)  # (B, C, H, W)


def pyr_down(x: Tensor) -> Tensor:
    """(B, C, H, W) -> (B, C, H/2, W/2): blur, then keep every second pixel (cv2.pyrDown for even sizes)."""
    return _blur(x)[:, :, ::2, ::2]


def pyr_up(x: Tensor) -> Tensor:
    """(B, C, H, W) -> (B, C, 2H, 2W): zero-insertion, then the blur with gain 4 (cv2.pyrUp)."""
    b, c, h, w = x.shape
    up = x.new_zeros(b, c, 2 * h, 2 * w)
    up[:, :, ::2, ::2] = x
    return _blur(up, gain=4.0)


def laplacian_pyramid(images: Tensor, levels: int) -> list[Tensor]:
    """Band-pass levels from fine to coarse; the last level is the low-pass residual.

    ``sum`` of the levels, each upsampled back with :func:`pyr_up`, rebuilds the
    input exactly (up to rounding): nothing is lost between levels.

    Args:
        images: (B, C, H, W) float images; H and W divisible by ``2 ** (levels - 1)``.
        levels: Number of levels (1 = the images themselves).
    """
    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")
    div = 2 ** (levels - 1)
    if images.shape[-1] % div or images.shape[-2] % div:
        raise ValueError(f"image size {tuple(images.shape[-2:])} is not divisible by {div} ({levels} pyramid levels)")
    pyramid = [images]
    for _ in range(1, levels):
        low = pyr_down(pyramid[-1])
        pyramid[-1] = pyramid[-1] - pyr_up(low)
        pyramid.append(low)
    return pyramid


def patch_descriptors(level: Tensor, per_image: int, size: int, generator: torch.Generator) -> Tensor:
    """``per_image`` random ``size`` x ``size`` neighbourhoods of every image: (B * per_image, C, size, size)."""
    b, c, h, w = level.shape
    if h < size or w < size:
        raise ValueError(f"a {h}x{w} pyramid level is smaller than the {size}x{size} neighbourhood")
    ys = torch.randint(0, h - size + 1, (b, per_image), generator=generator)
    xs = torch.randint(0, w - size + 1, (b, per_image), generator=generator)
    offsets = torch.arange(size)
    rows = (ys[..., None] + offsets)[..., :, None].expand(b, per_image, size, size)  # (B, P, s, s)
    cols = (xs[..., None] + offsets)[..., None, :].expand(b, per_image, size, size)
    batch = torch.arange(b)[:, None, None, None].expand_as(rows)
    patches = level.permute(0, 2, 3, 1)[batch, rows, cols]  # (B, P, s, s, C)
    return patches.permute(0, 1, 4, 2, 3).reshape(b * per_image, c, size, size)


def normalize_descriptors(desc: Tensor, reference: Tensor | None = None) -> Tensor:
    """Per-channel standardisation, then flattening: (N, C, s, s) -> (N, C*s*s).

    Args:
        desc: The descriptors to standardise.
        reference: Whose per-channel mean and standard deviation to use; None:
            ``desc``'s own (ProGAN's choice, which makes the distance blind to a
            change of contrast or brightness at any level).
    """
    ref = desc if reference is None else reference
    mean = ref.mean(dim=(0, 2, 3), keepdim=True)
    std = ref.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-8)
    return ((desc - mean) / std).flatten(1)


def sliced_wasserstein(a: Tensor, b: Tensor, *, directions: int = 512, generator: torch.Generator) -> float:
    """Mean over random unit directions of the 1-D Wasserstein-1 distance of the projections.

    The sets may differ in size: both projections are read at the quantiles
    ``(i + 0.5) / m``, ``m`` the smaller size, which for equal sizes is the
    sort-and-subtract of ProGAN's implementation.

    Args:
        a: (Na, D) descriptors.
        b: (Nb, D) descriptors.
        directions: Random directions (ProGAN: 4 repeats of 128).
        generator: Seeds the directions.
    """
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"need two (N, D) sets of one D, got {tuple(a.shape)} and {tuple(b.shape)}")
    dirs = torch.randn(a.shape[1], directions, generator=generator, dtype=torch.float64)
    dirs = dirs / dirs.norm(dim=0, keepdim=True)
    # Sorting along the contiguous last dimension is several times faster than along dim 0.
    pa = torch.sort((dirs.T @ a.double().T).contiguous(), dim=1).values  # (K, Na)
    pb = torch.sort((dirs.T @ b.double().T).contiguous(), dim=1).values  # (K, Nb)
    na, nb = pa.shape[1], pb.shape[1]
    m = min(na, nb)
    q = (torch.arange(m, dtype=torch.float64) + 0.5) / m
    ia = (q * na).long().clamp_max(na - 1)
    ib = (q * nb).long().clamp_max(nb - 1)
    return float((pa[:, ia] - pb[:, ib]).abs().mean())


def pyramid_levels(size: int, min_size: int = 16) -> int:
    """ProGAN's level count: one per resolution from ``size`` down to ``min_size`` (halving)."""
    levels, res = 0, size
    while res >= min_size:
        levels, res = levels + 1, res // 2
    if levels == 0:
        raise ValueError(f"images of {size} px are below the smallest pyramid level ({min_size} px)")
    return levels


def pyramid_descriptors(images: Tensor, levels: int, *, per_image: int, size: int, generator: torch.Generator) -> list[Tensor]:
    """Raw (unnormalised) patch descriptors of each pyramid level of a batch of uint8 or float images."""
    pyramid = laplacian_pyramid(images.double(), levels)
    return [patch_descriptors(level, per_image, size, generator) for level in pyramid]


def sliced_wasserstein_distance(
    real: list[Tensor], fake: list[Tensor], *, directions: int = 512, seed: int = 0, normalize: Literal["real", "each"] = "real"
) -> list[float]:
    """SWD per pyramid level, each times 1e3 as ProGAN reports it, from per-level descriptor sets.

    Args:
        real: Per level, (N, C, s, s) descriptors of real images.
        fake: The same of generated images.
        directions: Random projection directions per level.
        seed: Seeds the directions.
        normalize: ``"real"``: both sets are standardised by the real set's
            statistics, so washed-out or over-contrasted samples are seen;
            ``"each"``: each set by its own, exactly as ProGAN's code.
    """
    if len(real) != len(fake):
        raise ValueError(f"{len(real)} real levels but {len(fake)} generated ones")
    g = torch.Generator().manual_seed(seed)
    out = []
    for r, f in zip(real, fake, strict=True):
        ref = r if normalize == "real" else None
        out.append(1e3 * sliced_wasserstein(normalize_descriptors(r), normalize_descriptors(f, ref), directions=directions, generator=g))
    return out
