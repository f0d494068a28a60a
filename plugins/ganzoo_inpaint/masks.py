"""Hole masks: generators, validation and compositing.

Convention (docs/inpainting.md): masks are float, **1 = hole** (pixel to fill),
0 = known pixel, shaped (B, 1, H, W). A network sees the masked image (holes
set to 0) and the mask; its output keeps the known pixels:
``out = mask * pred + (1 - mask) * image``.

Every mask is drawn from its own ``numpy`` generator seeded by an integer, so
a mask is a pure function of (params, size, seed): training draws the seeds from
the run's torch RNG (checkpointed, DDP-sliced), evaluation derives them from
the image content, so every model is scored on the same holes.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import torch
from PIL import Image, ImageDraw

from ganzoo import ConfigError
from ganzoo_inpaint.params import BoxMaskParams, FolderMaskParams, FreeFormMaskParams

__all__ = [
    "CONVENTION",
    "MaskError",
    "check_mask",
    "composite",
    "content_seeds",
    "generate_mask",
    "hole_bounds",
    "masked_input",
    "masks_from_seeds",
    "show_holes",
]

CONVENTION = "ganzoo masks are float, 1 = hole (pixel to fill), 0 = known pixel, shaped (B, 1, H, W)"

# Hole-only SSIM averages an 11x11-window map over the image minus a 5-pixel border;
# a hole entirely inside that border would leave it undefined, so masks avoid it.
_SSIM_MARGIN = 5
_MAX_TRIES = 20
_MAX_STROKES = 48  # stroke draws per mask before the hole is grown to size


class MaskError(ConfigError):
    """A mask breaks the convention, or no hole fits the image; the message names it (exit status 2)."""


def hole_bounds(hole_range: tuple[float, float], h: int, w: int) -> tuple[int, int]:
    """Pixel counts a hole may have: the bucket rounded outward to whole pixels, at least one.

    Raises:
        MaskError: The image is too small for any hole in the bucket.
    """
    n = h * w
    lo = max(1, math.floor(hole_range[0] * n + 1e-9))
    hi = min(n - 1, math.ceil(hole_range[1] * n - 1e-9))
    if lo > hi:
        raise MaskError(f"hole_range {list(hole_range)} admits no hole at {h}x{w}")
    return lo, hi


def _stroke(rng: np.random.Generator, h: int, w: int, p: FreeFormMaskParams) -> np.ndarray:
    """One DeepFill v2 brush stroke (``brush_stroke_mask``) as a (H, W) bool array."""
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    side = math.sqrt(h * w)
    mean_angle, angle_range = 2 * math.pi / 5, 2 * math.pi / 15
    radius = math.sqrt(h * h + w * w) / 8
    n_vertex = int(rng.integers(min(4, p.max_vertices), p.max_vertices + 1))
    a_min = mean_angle - rng.uniform(0, angle_range)
    a_max = mean_angle + rng.uniform(0, angle_range)
    vertices = [(int(rng.integers(0, w)), int(rng.integers(0, h)))]
    for i in range(n_vertex):
        angle = rng.uniform(a_min, a_max)
        angle = 2 * math.pi - angle if i % 2 == 0 else angle  # zig-zag, as the original
        r = float(np.clip(rng.normal(radius, radius / 2), 0, 2 * radius))
        x = float(np.clip(vertices[-1][0] + r * math.cos(angle), 0, w - 1))
        y = float(np.clip(vertices[-1][1] + r * math.sin(angle), 0, h - 1))
        vertices.append((int(x), int(y)))
    width = max(1, round(rng.uniform(p.min_width, p.max_width) * side))
    draw.line(vertices, fill=1, width=width)
    half = width // 2
    for x, y in vertices:  # round joints
        draw.ellipse((x - half, y - half, x + half, y + half), fill=1)
    return np.asarray(canvas, dtype=bool)


def _grow(hole: np.ndarray, target: int, rng: np.random.Generator) -> np.ndarray:
    """Add the known pixels nearest the hole (ties in raster order) until it has ``target`` pixels."""
    from scipy.ndimage import distance_transform_edt

    hole = hole.copy()
    if not hole.any():
        hole[int(rng.integers(0, hole.shape[0])), int(rng.integers(0, hole.shape[1]))] = True
    need = target - int(hole.sum())
    if need > 0:
        dist = distance_transform_edt(~hole).ravel()
        order = np.argsort(np.where(hole.ravel(), np.inf, dist), kind="stable")[:need]
        hole.ravel()[order] = True
    return hole


def _free_form(rng: np.random.Generator, h: int, w: int, p: FreeFormMaskParams) -> np.ndarray:
    lo, hi = hole_bounds(p.hole_range, h, w)
    target = int(rng.integers(lo, hi + 1))  # spread over the bucket, not piled up at its lower end
    hole = np.zeros((h, w), dtype=bool)
    for _ in range(_MAX_STROKES):
        candidate = hole | _stroke(rng, h, w, p)
        if candidate.sum() <= hi:  # a stroke that overshoots the bucket is redrawn
            hole = candidate
        if hole.sum() >= target:
            return hole
    return _grow(hole, target, rng)


def _box(rng: np.random.Generator, h: int, w: int, p: BoxMaskParams) -> np.ndarray:
    lo, hi = hole_bounds(p.hole_range, h, w)
    area = rng.uniform(lo, hi)
    aspect = math.exp(rng.uniform(math.log(p.aspect_range[0]), math.log(p.aspect_range[1])))  # height / width
    bh = min(h, max(1, round(math.sqrt(area * aspect))))
    bw = min(w, max(1, round(area / bh)))
    if not lo <= bh * bw <= hi:  # rounding left the bucket: the in-bucket box closest in aspect
        fits = [(abs(math.log(y / x) - math.log(aspect)), y, x) for y in range(1, h + 1) for x in range(1, w + 1) if lo <= y * x <= hi]
        if not fits:
            raise MaskError(f"no rectangle of {lo}-{hi} pixels fits {h}x{w}")
        _, bh, bw = min(fits)
    if p.position == "center":
        top, left = (h - bh) // 2, (w - bw) // 2
    else:
        top, left = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
    hole = np.zeros((h, w), dtype=bool)
    hole[top : top + bh, left : left + bw] = True
    return hole


def _reaches_interior(hole: np.ndarray) -> bool:
    m = _SSIM_MARGIN
    if hole.shape[0] <= 2 * m or hole.shape[1] <= 2 * m:
        return True
    return bool(hole[m:-m, m:-m].any())


def generate_mask(params: FreeFormMaskParams | BoxMaskParams | FolderMaskParams, h: int, w: int, seed: int) -> np.ndarray:
    """One (H, W) float32 mask in {0, 1}, 1 = hole, a pure function of its arguments (and, for a folder, its files).

    A folder mask is the file ``seed`` picks (ganzoo_inpaint.maskfolder).

    The hole's pixel count lies in :func:`hole_bounds`, and it reaches at least
    5 pixels inside the border (so hole-only SSIM is defined) unless 20 draws
    in a row did not.
    """
    if isinstance(params, FolderMaskParams):
        from ganzoo_inpaint.maskfolder import folder_mask

        return folder_mask(params, h, w, seed)
    rng = np.random.default_rng(seed)
    for _ in range(_MAX_TRIES):
        hole = _free_form(rng, h, w, params) if isinstance(params, FreeFormMaskParams) else _box(rng, h, w, params)
        if _reaches_interior(hole):
            break
    return hole.astype(np.float32)


def masks_from_seeds(
    params: FreeFormMaskParams | BoxMaskParams | FolderMaskParams, seeds: list[int], h: int, w: int,
    device: torch.device | None = None,
) -> torch.Tensor:
    """(B, 1, H, W) float masks, one per seed."""
    arr = np.stack([generate_mask(params, h, w, s) for s in seeds])[:, None]  # (B, 1, H, W)
    return torch.from_numpy(arr).to(device)


def content_seeds(images: torch.Tensor, eval_seed: int) -> list[int]:
    """One seed per image from ``eval_seed`` and the image's uint8 content.

    The evaluation data is streamed without indices, so the hole an image gets
    is tied to what it shows: the same in every run, for every model, whatever
    the batch size or device (uint8 rounding absorbs float noise).
    """
    q = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()  # (B, C, H, W)
    prefix = f"ganzoo-inpaint:{eval_seed}:".encode()
    return [int.from_bytes(hashlib.sha256(prefix + img.tobytes()).digest()[:8], "little") for img in q]


def check_mask(mask: torch.Tensor, image: torch.Tensor, max_hole_fraction: float = 0.75) -> torch.Tensor:
    """Validate a given mask against its images; return it as float on the images' device.

    Args:
        mask: Expected (B, 1, H, W) with values in {0, 1}, 1 = hole.
        image: (B, C, H, W) images the mask belongs to.
        max_hole_fraction: A mask covering more of an image is refused as probably inverted.

    Raises:
        MaskError: Wrong shape, values other than 0 and 1, or a hole so large the
            mask is probably inverted; each message states the convention.
    """
    b, _, h, w = image.shape
    if mask.ndim != 4 or tuple(mask.shape) != (b, 1, h, w):
        raise MaskError(f"mask has shape {tuple(mask.shape)}, expected {(b, 1, h, w)} for images {tuple(image.shape)}; {CONVENTION}")
    m = mask.detach().float()
    if not bool(torch.isfinite(m).all()) or not bool(((m == 0) | (m == 1)).all()):
        values = torch.unique(m[torch.isfinite(m)])[:6].tolist()
        hint = "; it looks like an 8-bit image: divide by 255 (white = hole)" if bool((m == 255).any()) else ""
        raise MaskError(f"mask values must be 0 or 1, found {values}{' ...' if len(values) == 6 else ''}{hint}; {CONVENTION}")
    frac = m.mean(dim=(1, 2, 3))  # (B,)
    worst = int(frac.argmax())
    if float(frac[worst]) > max_hole_fraction:
        raise MaskError(
            f"mask {worst} marks {float(frac[worst]):.0%} of the image as hole (more than max_hole_fraction {max_hole_fraction:.0%}): "
            f"is it inverted? {CONVENTION}; a mask with 1 = known pixel (PConv's convention) must be passed as 1 - mask"
        )
    return m.to(image.device)


def masked_input(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) image with the holes set to 0 (mid-grey on [-1, 1]): what a network sees."""
    return image * (1.0 - mask)


def composite(pred: torch.Tensor, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``mask * pred + (1 - mask) * image``: the prediction in the hole, the input elsewhere (exactly)."""
    # torch.where rather than the arithmetic form: known pixels are copied bit for bit, whatever pred holds there.
    return torch.where(mask > 0.5, pred.to(image.dtype), image)


def show_holes(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The masked input for a human: holes painted white."""
    return torch.where(mask > 0.5, torch.ones_like(image), image)
