"""How much memory ``ganzoo upscale`` needs for one image, and the tile size that makes it fit.

Two budgets matter. The **host** holds the whole output however it is computed:
a float32 tensor from the network, a float32 temporary while it is converted and
the 8/16-bit result, so :data:`HOST_BYTES_PER_SAMPLE` bytes per output sample;
tiling cannot shrink that, so an output over the host budget is refused. The
**device** holds the network's feature maps, which grow with the output area
(or the tile's): :func:`bytes_per_output_pixel` measures them on a tiny probe.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ganzoo.errors import DataError

# The size rule of ganzoo.upscale(tile="auto"): inputs over AUTO_TILE_PIXELS LR pixels go in tiles of AUTO_TILE,
# or smaller ones when memory asks for it.
from ganzoo.upscaling import AUTO_TILE, AUTO_TILE_PIXELS

__all__ = ["AUTO_TILE", "AUTO_TILE_PIXELS", "HOST_BYTES_PER_SAMPLE", "SAFETY", "Plan", "available_memory", "bytes_per_output_pixel",
           "plan_upscale"]

HOST_BYTES_PER_SAMPLE = 4 + 4 + 2
# The probe counts the three largest feature maps of a forward pass (the live input and output
# of the widest layer, and one more). Peak RSS measured on a CPU for the registry's 64-feature
# networks (x4): MSRResNet 890-965 B per output pixel, RRDBNet 1380, against 768 counted for
# both, hence the factor 2.
SAFETY = 2.0
MIN_TILE = 8  # the smallest --tile the command accepts
_FALLBACK_BPP = 2048.0  # a generator that cannot run the probe: the factor-2 estimate of a 64-feature network, rounded up


def bytes_per_output_pixel(module: nn.Module, channels: int, device: torch.device, probe: int = 16) -> float:
    """Device bytes per output pixel the generator needs, from a forward pass on a ``probe`` x ``probe`` input.

    Forward hooks record every leaf module's output; the three largest, per output
    pixel, times :data:`SAFETY`. Fully convolutional generators scale linearly
    with the area, so the tiny probe stands for any size.
    """
    sizes: list[int] = []

    def record(_m: nn.Module, _i: object, out: object) -> None:
        if isinstance(out, torch.Tensor):
            sizes.append(out.numel() * out.element_size())

    handles = [m.register_forward_hook(record) for m in module.modules() if not any(True for _ in m.children())]
    try:
        with torch.no_grad():
            out = module(torch.zeros(1, channels, probe, probe, device=device))
    except (RuntimeError, ValueError, TypeError):  # a generator with a fixed input size: be conservative instead
        return _FALLBACK_BPP
    finally:
        for h in handles:
            h.remove()
    pixels = int(out.shape[-1]) * int(out.shape[-2])
    largest = sum(sorted(sizes, reverse=True)[:3]) or out.numel() * out.element_size()
    return SAFETY * largest / pixels


def available_memory(device: torch.device) -> int | None:
    """Free bytes on ``device``: CUDA's free memory, the host's MemAvailable (and cgroup limit) for a CPU; None when unknown."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type != "cpu":
        return None  # MPS shares the host's memory but reports no free amount
    return host_available()


def host_available() -> int | None:
    """The host's available memory in bytes (Linux /proc/meminfo, capped by a cgroup v2 limit), else None."""
    found: int | None = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        found = None
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            left = int(limit) - int(Path("/sys/fs/cgroup/memory.current").read_text())
            found = left if found is None else min(found, left)
    except (OSError, ValueError):
        pass
    if found is None and hasattr(os, "sysconf"):
        try:
            found = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError):
            found = None
    return found


@dataclass(frozen=True)
class Plan:
    """How to upscale one image: ``tile`` for ``task.upscale`` and a note when it was chosen automatically."""

    tile: int | None
    note: str | None = None


def _gb(n: float) -> str:
    return f"{n / 1e9:.2f} GB"


def plan_upscale(name: str, size: tuple[int, int], *, scale: int, channels: int, bpp: float, tile: int | None, tile_pad: int,
                 host_budget: float | None, device_budget: float | None, shared: bool) -> Plan:
    """Choose the tile for an (H, W) image, or refuse when even the smallest tile cannot fit.

    Without ``tile``: :data:`AUTO_TILE` above :data:`AUTO_TILE_PIXELS` LR pixels when
    that tile fits, else the whole image when it fits, else the largest tile that does.

    Args:
        name: The input, for messages.
        size: LR (H, W).
        scale: The run's scale.
        channels: Output channels kept on the host (colour plus alpha).
        bpp: Device bytes per output pixel (:func:`bytes_per_output_pixel`).
        tile: The user's ``--tile``, or None for automatic.
        tile_pad: ``--tile-pad``.
        host_budget: Bytes the host may use; None when unknown (nothing is refused).
        device_budget: Bytes the device may use; None when unknown.
        shared: The device is the host (CPU): the output buffers come out of the same budget.

    Raises:
        DataError: The output or the smallest tile does not fit (exit 1).
    """
    h, w = size
    out_px = h * scale * w * scale
    host_need = out_px * channels * HOST_BYTES_PER_SAMPLE
    if host_budget is not None and host_need > host_budget:
        raise DataError(f"upscaling {name} to {w * scale}x{h * scale} needs about {_gb(host_need)} of host memory for the output "
                        f"alone, more than the {_gb(host_budget)} available (tiling cannot reduce it): crop or shrink the "
                        "image, or raise --max-memory if more is really free")
    budget = device_budget
    if budget is not None and shared:
        budget -= host_need

    def need(t: int) -> float:
        return bpp * (min(t, h) + 2 * tile_pad) * scale * (min(t, w) + 2 * tile_pad) * scale

    if tile is None and h * w > AUTO_TILE_PIXELS and (budget is None or need(AUTO_TILE) <= budget):
        return Plan(AUTO_TILE, f"{name} is {w}x{h} = {h * w:,} LR pixels, over {AUTO_TILE_PIXELS:,}: upscaling in {AUTO_TILE}-pixel tiles")
    if budget is None:
        return Plan(tile)

    largest = math.floor(math.sqrt(max(budget, 0) / bpp) / scale) - 2 * tile_pad  # the largest square tile that fits
    if tile is not None:
        if need(tile) > budget:
            hint = (f"--tile {largest} fits" if largest >= MIN_TILE
                    else f"even --tile {MIN_TILE} does not fit; lower --tile-pad or free memory")
            raise DataError(f"upscaling {name} in {tile}-pixel tiles needs about {_gb(need(tile))} for the network, more than the "
                            f"{_gb(budget)} available: {hint}")
        return Plan(tile)
    whole = bpp * out_px
    if whole <= budget:
        return Plan(None)
    if largest < MIN_TILE:
        raise DataError(f"upscaling {name} needs about {_gb(whole)} for the network, and even --tile {MIN_TILE} needs "
                        f"{_gb(need(MIN_TILE))}, more than the {_gb(max(budget, 0))} available: free memory, use a smaller "
                        "--tile-pad, or raise --max-memory")
    return Plan(largest, f"{name}: the whole image would need about {_gb(whole)} for the network, more than the "
                         f"{_gb(budget)} available; upscaling in tiles (--tile {largest})")
