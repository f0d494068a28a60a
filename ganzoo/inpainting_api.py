"""``ganzoo.inpaint``: fill the holes of one image with a trained inpainting run, from Python.

The core knows no inpainting plugin: a run's task is usable here when it
satisfies :class:`Inpainter` (the ``inpainting`` task of ``ganzoo_inpaint``
does). ``ganzoo inpaint`` (the command) calls :func:`inpaint` too, so both
read masks, keep known pixels and handle channels the same way.

Masks follow ganzoo's convention, **1 = hole**: in an image file or array,
white (the type's largest value) is the hole. Anti-aliased and JPEG masks
(grey levels along the edges) are thresholded at mid-grey with a note; a mask
that is mostly grey (a photo, noise, a soft matte) is refused, see
:func:`binary_mask`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ganzoo.errors import EXIT_INPUT, DataError

if TYPE_CHECKING:  # torch and numpy are imported when a call runs
    import numpy as np
    import torch
    from torch import nn

__all__ = ["GREY_FRACTION", "DEFAULT_MAX_SIDE", "Inpainter", "InpaintNote", "MaskFileError", "binary_mask", "fill_native", "inpaint"]

CONVENTION = "white (255) = hole to fill, black (0) = known pixel; or values 0/1 with 1 = hole"
GREY_FRACTION = 0.25  # a mask with more pixels strictly between 10 % and 90 % grey is not a drawn mask
DEFAULT_MAX_SIDE = 512  # above this long side the run fills a downscaled copy (docs/inpainting.md)


class MaskFileError(DataError):
    """A mask cannot be read as holes (wrong size, colours, mostly grey); exit status 2, the message names the convention."""

    exit_code = EXIT_INPUT


class InpaintNote(UserWarning):
    """Something the call changed on the way (a mask thresholded, channels converted)."""


@runtime_checkable
class Inpainter(Protocol):
    """A task that fills holes in images of any size (the ``inpainting`` task satisfies it)."""

    def inpaint_any_size(self, generator: nn.Module, image: torch.Tensor, mask: torch.Tensor, *, max_side: int) -> torch.Tensor:
        """Fill ``image`` (1, C, H, W) in [-1, 1] under ``mask`` (1, 1, H, W) in {0, 1}, 1 = hole, any H and W.

        Both are on the generator's device. Known pixels of the result equal the
        input's bit for bit. Above ``max_side`` (long side; 0 = never) the task may work on a downscaled copy.
        """
        ...


def _planes(values: np.ndarray) -> np.ndarray:
    """(H, W, C) from (H, W) or (H, W, C)."""
    return values[..., None] if values.ndim == 2 else values


def binary_mask(values: np.ndarray, white: float, *, name: str = "mask", note: Callable[[str], None] | None = None) -> np.ndarray:
    """(H, W) bool holes from a mask's samples: white = hole, grey levels thresholded at mid-grey.

    Args:
        values: (H, W) or (H, W, C) samples (C > 1: R = G = B, an alpha plane last is ignored when C is 2 or 4).
        white: The samples' full scale (255, 65535 or 1.0).
        name: How messages name the mask.
        note: Called with a one-line note when grey levels were thresholded.

    Raises:
        MaskFileError: Coloured pixels; or more than 25 % of the pixels strictly
            between 10 % and 90 % grey (a photo, noise, a soft matte); or grey pixels
            that are mostly away from the hole's edges (not anti-aliasing); or grey
            levels none of which reaches mid-grey (no hole: a mask on another scale).
    """
    import numpy as np

    planes = _planes(np.asarray(values))
    colour = planes[..., :3] if planes.shape[-1] >= 3 else planes[..., :1]  # alpha dropped
    arr = colour[..., 0]
    if colour.shape[-1] > 1 and not (colour == arr[..., None]).all():
        raise MaskFileError(f"{name} has coloured pixels; a mask is black and white ({CONVENTION})")
    uniq = np.unique(arr)
    if set(uniq.tolist()) <= {0, white}:
        return np.asarray(arr == white)
    if set(uniq.tolist()) <= {0, 1}:
        return np.asarray(arr == 1)
    level = arr.astype(np.float64) / white
    grey = (level > 0.1) & (level < 0.9)
    if float(grey.mean()) > GREY_FRACTION:
        raise MaskFileError(f"{name} is mostly grey ({grey.mean():.0%} of its pixels are between 10% and 90% grey): "
                            f"a photo, noise or a soft matte, not a mask; draw it in black and white ({CONVENTION})")
    hole = level >= 0.5
    if not hole.any():  # e.g. 8-bit values in a 16-bit file: nothing reaches mid-grey of the file's scale
        raise MaskFileError(f"{name} has grey levels but no pixel at or above mid-grey ({white / 2:g}), so no hole; "
                            f"is it on another scale? ({CONVENTION})")
    if grey.any() and float(_near_edge(hole)[grey].mean()) < 0.5:
        raise MaskFileError(f"{name}: most of its grey pixels are away from the hole's edges (noise?), so they are not "
                            f"anti-aliasing; draw it in black and white ({CONVENTION})")
    if note is not None:
        note(f"{name} has {len(uniq)} grey levels (anti-aliasing or JPEG): thresholded at mid-grey, 50% and above = hole")
    return np.asarray(hole)


def _near_edge(hole: np.ndarray, radius: int = 2) -> np.ndarray:
    """Pixels within ``radius`` (Chebyshev) of a hole/known boundary."""
    import numpy as np
    from scipy.ndimage import binary_dilation, binary_erosion

    grow = binary_dilation(hole, iterations=radius)
    shrink = binary_erosion(hole, iterations=radius, border_value=1)
    return np.asarray(grow & ~shrink)


def fill_native(task: Inpainter, generator: nn.Module, device: torch.device, native: np.ndarray, channels: int,
                white: float, hole: np.ndarray, run_channels: int, *, max_side: int) -> np.ndarray:
    """``native`` (H, W, C[+alpha]) with the holes replaced by the run's prediction, quantised to its own dtype.

    Known pixels and alpha are the input's own samples. A grey run fills R, G and
    B one at a time; an RGB run fills a grey image as RGB and keeps the mean.
    """
    import numpy as np
    import torch

    colour = np.clip(native[..., :channels].astype(np.float32) / white, 0.0, 1.0)  # (H, W, c) in [0, 1]
    x = torch.from_numpy(np.ascontiguousarray(colour.transpose(2, 0, 1)))[None].mul_(2).sub_(1).to(device)  # (1, c, H, W)
    m = torch.from_numpy(hole.astype(np.float32))[None, None].to(device)  # (1, 1, H, W)

    def run(img: torch.Tensor) -> torch.Tensor:
        return task.inpaint_any_size(generator, img, m, max_side=max_side)

    with torch.no_grad():
        if channels == run_channels:
            pred = run(x)
        elif channels == 3:  # a grey run: each channel is a grey image
            pred = torch.cat([run(x[:, c : c + 1]) for c in range(3)], 1)
        else:  # an RGB run on grey: fill as RGB, keep the mean
            pred = run(x.expand(1, 3, *x.shape[-2:]).contiguous()).mean(1, keepdim=True)
    filled = ((pred[0].float().clamp(-1, 1) + 1) / 2).permute(1, 2, 0).cpu().numpy()  # (H, W, c) in [0, 1]
    if native.dtype.kind != "f":  # round to the input's levels: 255 or 65535
        filled = np.round(filled * white).astype(native.dtype)
    result = native.copy()  # known pixels and alpha: the input's own samples, untouched
    result[hole, :channels] = filled[hole].astype(native.dtype)
    return result


def _white(arr: np.ndarray) -> float:
    return {"u1": 255.0, "u2": 65535.0}.get(f"{arr.dtype.kind}{arr.dtype.itemsize}", 1.0)


def _native_of(image: Any, limit: int | None = None) -> tuple[str, np.ndarray, Any]:
    """(kind, (H, W, C) samples, what to restore the kind with) for a path, PIL image or numpy array."""
    import numpy as np

    import ganzoo.images as gi

    if isinstance(image, (str, Path)):
        return "pil", gi.load_image(image, limit=limit).native, None
    if isinstance(image, np.ndarray):
        return "numpy", _planes(gi.check_image_array(image)), image.ndim
    if hasattr(image, "mode") and hasattr(image, "size"):  # a PIL image
        img = image if image.mode in ("L", "LA", "RGB", "RGBA", "I;16", "F") else image.convert("RGBA" if "A" in image.mode else "RGB")
        return "pil", _planes(np.asarray(img)), None
    raise DataError(f"cannot inpaint a {type(image).__name__}: pass a path, PIL image, numpy array or torch tensor")


def _mask_of(mask: Any, size: tuple[int, int], note: Callable[[str], None], limit: int | None = None) -> np.ndarray:
    """(H, W) bool holes from a path, PIL image, numpy array or tensor mask, checked against the image's size."""
    import numpy as np
    import torch

    import ganzoo.images as gi

    name = "mask"
    arr: np.ndarray
    if isinstance(mask, torch.Tensor):
        if mask.ndim < 2 or mask.numel() != mask.shape[-2] * mask.shape[-1]:
            raise MaskFileError(f"mask tensor has shape {tuple(mask.shape)}; expected (H, W), (1, H, W) or (1, 1, H, W) ({CONVENTION})")
        arr, white = mask.detach().float().cpu().numpy().reshape(mask.shape[-2:]), 1.0
    elif isinstance(mask, (str, Path)):
        data = gi.load_image(mask, limit=limit, what="mask")
        name, arr, white = f"mask {mask}", data.native, data.max_value
    else:
        _, arr, _ = _native_of(mask)
        white = _white(arr)
    if tuple(arr.shape[:2]) != size:
        raise MaskFileError(f"{name} is {arr.shape[1]}x{arr.shape[0]} but the image is {size[1]}x{size[0]}; "
                            f"they must match ({CONVENTION})")
    return binary_mask(np.asarray(arr), white, name=name, note=note)


def inpaint(run: Any, image: Any, mask: Any, *, device: str = "cpu", checkpoint: str | None = None,
            max_side: int = DEFAULT_MAX_SIDE, max_pixels: int | None = None, note: Callable[[str], None] | None = None) -> Any:
    """Fill the holes of ``image`` with a trained inpainting run; every known pixel is returned unchanged.

    Args:
        run: A run directory, or what :func:`ganzoo.load_generator` returned for one (reused, e.g. over a folder).
        image: A path (returns a PIL image), a PIL image (returns one, same mode), a numpy array (H, W) or
            (H, W, C) of uint8, uint16 or float in [0, 1] (returns the same shape and dtype; a 2nd or 4th
            channel is alpha, kept), or a tensor (C, H, W) or (1, C, H, W) in [-1, 1] (returns the same).
        mask: The holes, white / 1 = hole, the image's size: a path, PIL image, numpy array or tensor.
            Grey levels are thresholded at mid-grey (see :func:`binary_mask`).
        device: Where the network runs (``cpu``, ``cuda``, ``mps``, ``auto``).
        checkpoint: Weights from a checkpoint (``latest``, ``best``, a path) instead of the run's export.
        max_side: Images whose long side exceeds this are filled on a copy downscaled to it and the
            prediction upsampled into the holes; 0 never downscales.
        max_pixels: Refuse image or mask files over this many pixels, before decoding (default: ganzoo.images.max_pixels()).
        note: Receives one-line notes (a thresholded mask, channel conversion); default: an :class:`InpaintNote` warning.

    Raises:
        ConfigError: The run's task does not satisfy :class:`Inpainter`.
        MaskFileError: The mask does not fit the image or is not a mask.
        DataError: An input of an unsupported kind.
    """
    import torch

    from ganzoo.api import loaded_for

    say = note or (lambda text: warnings.warn(text, InpaintNote, stacklevel=3))
    gen = loaded_for(run, Inpainter, "inpaint (its task has no inpaint_any_size); use an inpainting run",
                     device=device, checkpoint=checkpoint)
    if isinstance(image, torch.Tensor):
        return _inpaint_tensor(gen, image, mask, max_side, say, max_pixels)
    kind, native, ndim = _native_of(image, max_pixels)
    hole = _mask_of(mask, (int(native.shape[0]), int(native.shape[1])), say, max_pixels)
    channels = 3 if native.shape[2] >= 3 else 1
    _channel_note(channels, gen.info.channels, say)
    out = fill_native(gen.task, gen.module, gen.device, native, channels, _white(native), hole, gen.info.channels, max_side=max_side)
    if kind == "numpy":
        return out[..., 0] if ndim == 2 else out
    import ganzoo.images as gi

    return gi.to_pil(out)


def _channel_note(channels: int, run_channels: int, say: Callable[[str], None]) -> None:
    if channels != run_channels:
        how = "R, G and B are filled one at a time" if channels == 3 else "the grey image is filled as RGB and the mean kept"
        say(f"the run is {'grey' if run_channels == 1 else 'RGB'}: {how}")


def _inpaint_tensor(gen: Any, image: torch.Tensor, mask: Any, max_side: int, say: Callable[[str], None],
                    limit: int | None) -> torch.Tensor:
    """Tensor in, tensor out: (C, H, W) or (1, C, H, W) in [-1, 1], known pixels copied with ``torch.where``."""
    import torch

    if image.ndim not in (3, 4) or (image.ndim == 4 and image.shape[0] != 1) or image.shape[-3] not in (1, 3):
        raise DataError(f"image tensor has shape {tuple(image.shape)}; expected (C, H, W) or (1, C, H, W), C = 1 or 3, in [-1, 1]")
    x = image.reshape(1, *image.shape[-3:])
    hole = torch.from_numpy(_mask_of(mask, (int(x.shape[-2]), int(x.shape[-1])), say, limit))[None, None].to(gen.device)
    src = x.detach().to(gen.device, torch.float32)
    c = src.shape[1]
    _channel_note(c, gen.info.channels, say)
    with torch.no_grad():
        if c == gen.info.channels:
            pred = gen.task.inpaint_any_size(gen.module, src, hole.float(), max_side=max_side)
        elif c == 3:
            pred = torch.cat([gen.task.inpaint_any_size(gen.module, src[:, i : i + 1], hole.float(), max_side=max_side)
                              for i in range(3)], 1)
        else:
            pred = gen.task.inpaint_any_size(gen.module, src.expand(1, 3, *src.shape[-2:]).contiguous(), hole.float(),
                                             max_side=max_side).mean(1, keepdim=True)
    out = torch.where(hole.to(image.device), pred.to(image.device, image.dtype), x)
    return out.reshape(image.shape)
