"""``ganzoo.upscale``: a trained super-resolution run applied to one image, from Python and from ``ganzoo upscale``.

The core knows no super-resolution plugin: a run's task is usable here when it
satisfies :class:`Upscaler` (the ``super-resolution`` task of ``ganzoo_sr``
does). ``ganzoo upscale`` (the command) calls :func:`upscale` too, so both treat
channels the same way:

* grey stays grey (an RGB run upscales it as RGB and keeps the channel mean; a
  grey run upscales R, G and B one at a time);
* an alpha channel is upscaled on its own, bicubically, beside the colour (as
  Real-ESRGAN's inference does): transparency is not the network's business;
* 16-bit and float grey come back as 16-bit grey (file and PIL outputs) or in the
  input's dtype (arrays).

Images over :data:`AUTO_TILE_PIXELS` LR pixels are upscaled in :data:`AUTO_TILE`
tiles unless ``tile`` says otherwise, with :data:`DEFAULT_TILE_PAD` pixels of
context around each (docs/super-resolution.md).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from ganzoo.errors import ConfigError, DataError

if TYPE_CHECKING:  # torch and numpy are imported when a call runs
    import numpy as np
    import torch
    from torch import nn

__all__ = ["AUTO_TILE", "AUTO_TILE_PIXELS", "DEFAULT_TILE_PAD", "UpscaleNote", "Upscaler", "auto_tile", "upscale"]

# Above 512 x 512 LR pixels the whole-image pass of the registry's 64-feature x4
# networks needs several GB (about 1 kB per output pixel, docs/super-resolution.md);
# 256-pixel tiles bound it whatever the input size.
AUTO_TILE_PIXELS = 512 * 512
AUTO_TILE = 256
DEFAULT_TILE_PAD = 16  # LR context pixels around each tile: trained 8-block nets tile exactly with it (docs/super-resolution.md)

Tile = int | None | Literal["auto"]


class UpscaleNote(UserWarning):
    """Something the call decided on the way (automatic tiling, channels converted)."""


@runtime_checkable
class Upscaler(Protocol):
    """A task that upscales LR images of any size by an integer ``scale`` (the ``super-resolution`` task satisfies it)."""

    scale: int

    def upscale(self, generator: nn.Module, lr: torch.Tensor, *, device: torch.device | str, tile: int | None,
                tile_pad: int) -> torch.Tensor:
        """SR of (B, C, h, w) LR in [-1, 1]: (B, C, h*scale, w*scale) in [-1, 1] on the CPU, in LR tiles of ``tile`` when given."""
        ...


def auto_tile(size: tuple[int, int]) -> int | None:
    """The tile ``tile="auto"`` uses for an LR image of (H, W): :data:`AUTO_TILE` above :data:`AUTO_TILE_PIXELS` pixels, else None."""
    h, w = size
    return AUTO_TILE if h * w > AUTO_TILE_PIXELS else None


def upscale(run: Any, image: Any, *, device: str = "cpu", checkpoint: str | None = None, tile: Tile = "auto",
            tile_pad: int = DEFAULT_TILE_PAD, note: Callable[[str], None] | None = None) -> Any:
    """Upscale ``image`` with a trained super-resolution run (EMA weights when the run used EMA).

    Args:
        run: A run directory, or what :func:`ganzoo.load_generator` returned for one (reused, e.g. over a folder).
        image: A path (returns a PIL image), a PIL image (returns one; L, LA, RGB, RGBA and 16-bit grey keep their
            mode, other modes are converted to RGB(A) first), a numpy array (H, W) or (H, W, C) of uint8, uint16 or
            float in [0, 1], C = 1-4 with the 2nd/4th channel alpha (returns the same shape and dtype), a tensor
            (C, H, W) or (B, C, H, W) in [0, 1] (returns the same), or a :class:`ganzoo.images.ImageData`
            (returns its upscaled ``native`` array, in a dtype Pillow can write).
        device: Where the network runs (``cpu``, ``cuda``, ``mps``, ``auto``) when ``run`` is a directory.
        checkpoint: Weights from a checkpoint (``latest``, ``best``, a path) instead of the run's export.
        tile: ``"auto"``: :data:`AUTO_TILE` tiles above :data:`AUTO_TILE_PIXELS` LR pixels, else the whole image;
            an int: LR tiles of that side; None or 0: the whole image at once.
        tile_pad: LR context pixels around each tile (a pad at least the network's LR receptive-field radius
            makes the tiled result equal the whole-image one).
        note: Receives one-line notes (automatic tiling, channel conversion); default: an :class:`UpscaleNote` warning.

    Raises:
        ConfigError: The run's task does not satisfy :class:`Upscaler`, or ``tile`` is not valid.
        DataError: An input of an unsupported kind or shape.
    """
    import numpy as np
    import torch

    from ganzoo.api import loaded_for
    from ganzoo.imageio import ImageData, check_image_array

    say = note or (lambda text: warnings.warn(text, UpscaleNote, stacklevel=3))
    gen = loaded_for(run, Upscaler, "upscale (its task has no scale and upscale()); use a super-resolution run",
                     device=device, checkpoint=checkpoint)
    if isinstance(image, torch.Tensor):
        return _upscale_tensor(gen, image, tile, tile_pad, say)
    if isinstance(image, ImageData):
        return _native_out(gen, image.native, image.channels, image.max_value, str(image.path.name), tile, tile_pad, say, pil=True)
    if isinstance(image, np.ndarray):
        arr = check_image_array(image)
        planes = arr[..., None] if arr.ndim == 2 else arr  # (H, W, C)
        channels = 3 if planes.shape[2] >= 3 else 1
        white = {"u1": 255.0, "u2": 65535.0}.get(f"{arr.dtype.kind}{arr.dtype.itemsize}", 1.0)
        out = _native_out(gen, planes, channels, white, "the image", tile, tile_pad, say, pil=False)
        return out[..., 0] if arr.ndim == 2 else out
    import ganzoo.images as gi

    if isinstance(image, (str, Path)):
        data = gi.load_image(image)
        for text in data.notes:
            say(text)
        return gi.to_pil(_native_out(gen, data.native, data.channels, data.max_value, data.path.name, tile, tile_pad, say, pil=True))
    if hasattr(image, "mode") and hasattr(image, "size"):  # a PIL image
        native, channels, white = _pil_planes(image)
        return gi.to_pil(_native_out(gen, native, channels, white, "the image", tile, tile_pad, say, pil=True))
    raise DataError(f"cannot upscale a {type(image).__name__}: pass a path, PIL image, numpy array or torch tensor")


def _pil_planes(image: Any) -> tuple[np.ndarray, int, float]:
    """(H, W, C[+alpha]) samples, colour channels and full scale of a PIL image."""
    import numpy as np

    mode = image.mode
    if mode.startswith("I;16") or mode == "I":
        arr = np.asarray(image).astype(np.int64)
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise DataError(f"PIL image of mode {mode} has values {arr.min()}..{arr.max()}; expected 0..65535")
        return arr.astype(np.uint16)[..., None], 1, 65535.0
    if mode == "F":
        return np.clip(np.asarray(image, np.float32), 0, 1)[..., None], 1, 1.0
    if mode not in ("L", "LA", "RGB", "RGBA"):
        alpha = "A" in mode or (mode == "P" and "transparency" in image.info)
        image = image.convert("L" if mode == "1" else ("RGBA" if alpha else "RGB"))
    arr = np.asarray(image)
    planes = arr[..., None] if arr.ndim == 2 else arr
    return planes, 3 if planes.shape[2] >= 3 else 1, 255.0


def _resolve_tile(tile: Tile, size: tuple[int, int], name: str, say: Callable[[str], None]) -> int | None:
    if tile == "auto":
        chosen = auto_tile(size)
        if chosen is not None:
            h, w = size
            say(f"{name} is {w}x{h} = {h * w:,} LR pixels, over {AUTO_TILE_PIXELS:,}: upscaling in {chosen}-pixel tiles")
        return chosen
    if tile is None or tile == 0:
        return None
    if isinstance(tile, bool) or not isinstance(tile, int) or tile < 0:
        raise ConfigError(f"tile must be 'auto', None, 0 or a positive number of LR pixels, not {tile!r}")
    return tile


def _upscale01(gen: Any, x: torch.Tensor, channels: int, tile: int | None, tile_pad: int) -> torch.Tensor:
    """(1, C[+alpha], H, W) in [0, 1] -> (1, C[+alpha], sH, sW) in [0, 1]: colour through the network, alpha bicubic."""
    import torch
    import torch.nn.functional as F

    task, run_channels = gen.task, gen.info.channels
    colour = x[:, :channels] * 2 - 1  # (1, c, H, W) in [-1, 1]

    def run(lr: torch.Tensor) -> torch.Tensor:
        return task.upscale(gen.module, lr, device=gen.device, tile=tile, tile_pad=tile_pad)  # (1, C, sH, sW)

    with torch.no_grad():
        if channels == run_channels:
            sr = run(colour)
        elif channels == 1:  # an RGB run on grey: grey in, grey out
            sr = run(colour.expand(1, 3, *colour.shape[-2:]).contiguous()).mean(1, keepdim=True)
        else:  # a grey run on colour: each channel is a grey image
            sr = torch.cat([run(colour[:, c : c + 1]) for c in range(channels)], 1)
        sr = sr.float().add_(1).div_(2)
        if x.shape[1] > channels:  # transparency is not the network's business: bicubic, like the LR degradation's inverse
            a = F.interpolate(x[:, channels:].float(), scale_factor=task.scale, mode="bicubic", align_corners=False)
            sr = torch.cat([sr, a], 1)
    return sr.clamp_(0, 1)  # (1, C[+1], sH, sW)


def _channel_note(gen: Any, channels: int, name: str, say: Callable[[str], None]) -> None:
    if channels != gen.info.channels:
        say(f"{name}: the run is {'grey' if gen.info.channels == 1 else 'RGB'}; "
            + ("each of R, G, B is upscaled on its own" if channels == 3 else "grey in, grey out (the RGB result's mean)"))


def _native_out(gen: Any, native: np.ndarray, channels: int, white: float, name: str, tile: Tile, tile_pad: int,
                say: Callable[[str], None], *, pil: bool) -> np.ndarray:
    """(sH, sW, C[+alpha]) of (H, W, C[+alpha]) samples; ``pil``: uint8, or uint16 for deep grey without alpha, else the input's dtype."""
    import numpy as np
    import torch

    _channel_note(gen, channels, name, say)
    chosen = _resolve_tile(tile, (int(native.shape[0]), int(native.shape[1])), name, say)
    x01 = np.clip(native.astype(np.float32) / white, 0.0, 1.0)  # (H, W, C[+1])
    x = torch.from_numpy(np.ascontiguousarray(x01.transpose(2, 0, 1)))[None]  # (1, C[+1], H, W)
    del x01
    sr = _upscale01(gen, x, channels, chosen, tile_pad)[0].permute(1, 2, 0)  # (sH, sW, C[+1]) in [0, 1]
    if pil:  # what Pillow can write: 16 bits only for grey without alpha
        wide = white != 255.0 and sr.shape[2] == 1
        top, dtype = (65535.0, np.dtype(np.uint16)) if wide else (255.0, np.dtype(np.uint8))
    else:
        dtype = native.dtype
        top = white if native.dtype.kind == "u" else 1.0
    if dtype.kind == "f":
        return np.ascontiguousarray(sr.numpy().astype(dtype))
    return np.ascontiguousarray(sr.mul_(top).round_().numpy().astype(dtype))


def _upscale_tensor(gen: Any, image: torch.Tensor, tile: Tile, tile_pad: int, say: Callable[[str], None]) -> torch.Tensor:
    """Tensor in, tensor out: (C, H, W) or (B, C, H, W) in [0, 1], C = 1-4 (a 2nd/4th channel is alpha)."""
    import torch

    if image.ndim not in (3, 4) or image.shape[-3] not in (1, 2, 3, 4):
        raise DataError(f"image tensor has shape {tuple(image.shape)}; expected (C, H, W) or (B, C, H, W), C in 1-4, in [0, 1]")
    batch = image.reshape(-1, *image.shape[-3:]).detach().float().cpu()  # (B, C, H, W)
    c = batch.shape[1]
    channels = 3 if c >= 3 else 1
    _channel_note(gen, channels, "the image", say)
    chosen = _resolve_tile(tile, (int(batch.shape[-2]), int(batch.shape[-1])), "the image", say)
    out = torch.cat([_upscale01(gen, batch[i : i + 1].clamp(0, 1), channels, chosen, tile_pad) for i in range(len(batch))])
    s = gen.task.scale
    out = out.reshape(*image.shape[:-2], image.shape[-2] * s, image.shape[-1] * s)  # the input's (B,) C, sH, sW
    return out.to(image.device, image.dtype if image.is_floating_point() else torch.float32)
