"""``ganzoo inpaint RUN IMG --mask MASK``: fill the holes of one image file with a trained run.

Mask files are images whose **white pixels are the hole** and black pixels are
kept; {0, 1}-valued files (1 = hole) are accepted too. Anything else (grey
levels from JPEG or anti-aliasing, a different size) is refused with a message
naming the convention, before any network runs.

The output keeps the input's mode and every known pixel bit for bit: the
network's prediction is quantised to the file's own sample type and copied into
the holes only. Grey stays grey, RGB stays RGB whatever the run was trained on
(a grey run fills R, G and B one at a time; an RGB run fills a grey image as RGB
and keeps the mean), alpha is kept as it was, 16-bit grey stays 16-bit and a
float image is written as a float TIFF. Output is lossless (PNG, TIFF) unless
``--lossy`` allows a JPEG or WebP ``--out``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

import ganzoo.images as ganzoo_images
from ganzoo.errors import DataError, GanzooError

if TYPE_CHECKING:  # imported when the command runs: `ganzoo --help` must not pay for torch
    import torch

__all__ = ["inpaint", "read_image", "read_mask"]

_CONVENTION = "white (255) = hole to fill, black (0) = known pixel; or values 0/1 with 1 = hole"
_LOSSLESS = (".png", ".tif", ".tiff")
_LOSSY = (".jpg", ".jpeg", ".webp")


class InputError(DataError):
    """A user-supplied file or run cannot be used; ``code`` (= ``exit_code``) is the exit status."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = self.exit_code = code


def read_image(path: Path, channels: int, *, limit: int | None = None) -> torch.Tensor:
    """(1, C, H, W) float in [-1, 1] from an image file, converted to ``channels`` (alpha dropped), within the pixel limit."""
    import numpy as np
    import torch

    colour = ganzoo_images.load_image(path, limit=limit).colour()  # (H, W, c) in [0, 1]
    if colour.shape[-1] != channels:  # the ITU-R 601 luma Pillow's "L" uses, or grey repeated
        colour = colour @ np.array([[0.299], [0.587], [0.114]], np.float32) if channels == 1 else np.repeat(colour, 3, axis=-1)
    return torch.from_numpy(np.ascontiguousarray(colour.transpose(2, 0, 1)))[None] * 2 - 1


def read_mask(path: Path, size: tuple[int, int], *, limit: int | None = None) -> torch.Tensor:
    """(1, 1, H, W) float mask, 1 = hole, from a mask image whose white pixels are the hole.

    White is the file's largest value (255, 65535 or 1.0); alpha is ignored.

    Raises:
        ImageReadError: Unreadable or over the pixel limit (exit 1).
        InputError: Wrong size or not binary (exit 2).
    """
    import numpy as np
    import torch

    mask = ganzoo_images.load_image(path, limit=limit, what="mask")
    planes = mask.native[..., : mask.channels]  # (H, W, c) in the file's own sample type
    arr = planes[..., 0]
    if mask.size != size:
        raise InputError(f"mask {path} is {arr.shape[1]}x{arr.shape[0]} but the image is {size[1]}x{size[0]}; "
                         f"they must match ({_CONVENTION})", 2)
    values = set(np.unique(planes).tolist())
    if mask.channels > 1 and not (planes == arr[..., None]).all():
        values |= {-1.0}  # coloured pixels: neither black nor white
    white = mask.max_value
    if values <= {0, white}:
        hole = arr == white
    elif values <= {0, 1}:
        hole = arr == 1
    else:
        shown = sorted(v for v in values if v >= 0)[:6]
        raise InputError(f"mask {path} is not binary: {len(values)} grey levels or colours such as {shown} (JPEG or anti-aliasing?); "
                         f"threshold it and save as PNG ({_CONVENTION})", 2)
    return torch.from_numpy(hole.astype(np.float32))[None, None]


def output_path(image: ganzoo_images.ImageData, out: str | None, *, lossy: bool, overwrite: bool) -> Path:
    """Where the result goes (default: IMAGE's stem + ``-inpainted.png``, ``.tif`` for float images), checked before any compute.

    Raises:
        InputError: A lossy suffix without ``lossy``, an unknown suffix, a float image to PNG (exit 2).
        ImageOutputError: The directory cannot be written, or the file exists without ``overwrite`` (exit 2).
    """
    is_float = image.native.dtype.kind == "f"
    target = Path(out) if out else image.path.with_name(image.path.stem + ("-inpainted.tif" if is_float else "-inpainted.png"))
    suffix = target.suffix.lower()
    if suffix in _LOSSY and not lossy:
        raise InputError(f"--out {target} is a lossy format: the known pixels would change (JPEG moves them by up to ~30 levels); "
                         "write a .png, or pass --lossy to accept that", 2)
    if suffix not in _LOSSY + _LOSSLESS:
        raise InputError(f"--out {target}: unknown image type {suffix or '(no suffix)'!r}; use .png or .tif (lossless), "
                         "or .jpg/.webp with --lossy", 2)
    if is_float and suffix == ".png":
        raise InputError(f"{image.path} is a float image: PNG cannot hold its known pixels exactly; use --out with .tif", 2)
    return ganzoo_images.check_output_file(target, overwrite=overwrite)


@click.command(name="inpaint")
@click.argument("run", type=click.Path(file_okay=False, exists=True))
@click.argument("image", type=click.Path(dir_okay=False, exists=True))
@click.option("--mask", "mask_path", required=True, type=click.Path(dir_okay=False, exists=True),
              help="Mask image of the same size: white (255) = hole to fill, black (0) = keep.")
@click.option("--out", type=click.Path(dir_okay=False),
              help="Output file, .png or .tif (default: IMAGE's name with -inpainted.png, next to it); .jpg/.webp need --lossy.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, mps or auto.")
@click.option("--max-pixels", "max_pixels", type=click.IntRange(1, None), default=None,
              help=f"Refuse an image or mask over this many pixels, checked before decoding (default: ${ganzoo_images.MAX_PIXELS_ENV} "
                   f"or {ganzoo_images.DEFAULT_MAX_PIXELS:,}).")
@click.option("--lossy", is_flag=True, help="Allow a lossy --out (.jpg, .webp): the known pixels then change.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file (default: refuse before any work).")
@click.option("--checkpoint", default=None, metavar="latest|best|PATH",
              help="Weights from a checkpoint instead of the finished run's export (works on unfinished runs).")
def inpaint(run: str, image: str, mask_path: str, out: str | None, device: str, max_pixels: int | None, lossy: bool,
            overwrite: bool, checkpoint: str | None) -> None:
    """Fill the holes of IMAGE with a trained inpainting RUN; known pixels are kept exactly.

    The mask follows ganzoo's convention, 1 = hole: in a mask file white is the
    hole. A mask of another size, or with grey levels, is refused (exit 2). The
    output has IMAGE's mode (grey, RGB, alpha, 16-bit) whatever the run's
    channels, and is lossless unless --lossy; an existing file needs --overwrite.

    \b
    Example:
      ganzoo inpaint runs/00003-pconv-faces face.png --mask holes.png --out filled.png
    """
    try:
        _inpaint(run, Path(image), Path(mask_path), out, device, max_pixels, lossy, overwrite, checkpoint)
    except GanzooError as exc:  # a bad run directory, file or mask; also when the command runs outside `ganzoo`
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)


def _inpaint(run: str, image_path: Path, mask_path: Path, out: str | None, device: str, max_pixels: int | None, lossy: bool,
             overwrite: bool, checkpoint: str | None = None) -> None:
    from ganzoo import load_generator

    limit = ganzoo_images.max_pixels(max_pixels)
    gen = load_generator(run, device=device, checkpoint=checkpoint)
    task_type = gen.spec.task.type
    if task_type != "inpainting":
        raise InputError(f"{run} was trained for task {task_type!r}; `ganzoo inpaint` needs an inpainting run", 2)
    image = ganzoo_images.load_image(image_path, limit=limit)
    if not image.lossless:
        raise InputError(f"{'; '.join(image.notes)}: its known pixels could not be written back unchanged; "
                         "convert it to 8-bit RGB (or grey) PNG first", 2)
    mask = read_mask(mask_path, image.size, limit=limit)  # (1, 1, H, W)
    target = output_path(image, out, lossy=lossy, overwrite=overwrite)
    for note in image.notes:
        click.echo(f"note: {note}", err=True)
    if image.channels != gen.info.channels:
        how = "R, G and B are filled one at a time" if image.channels == 3 else "the grey image is filled as RGB and the mean kept"
        click.echo(f"note: the run is {'grey' if gen.info.channels == 1 else 'RGB'}: {how}", err=True)
    result = _fill(gen, image, mask)
    if target.suffix.lower() in _LOSSY:
        result = _eight_bit(result, image.max_value, keep_alpha=target.suffix.lower() == ".webp")
        ganzoo_images.save_image(ganzoo_images.to_pil(result), target, quality=95)
        click.echo(f"note: {target.suffix} is lossy: {_drift(target, image, mask, limit)}", err=True)
    else:
        ganzoo_images.save_image(ganzoo_images.to_pil(result), target)
    click.echo(f"wrote {target}")


def _fill(gen: Any, image: ganzoo_images.ImageData, mask: torch.Tensor) -> Any:
    """IMAGE's native samples with the holes replaced by the run's prediction, quantised to the same type."""
    import numpy as np
    import torch

    x = torch.from_numpy(image.colour().transpose(2, 0, 1))[None].mul_(2).sub_(1).to(gen.device)  # (1, c, H, W)
    m = mask.to(gen.device)
    with torch.no_grad():
        if image.channels == gen.info.channels:
            pred = gen.task.inpaint(gen.module, x, m)
        elif image.channels == 3:  # a grey run: each channel is a grey image
            pred = torch.cat([gen.task.inpaint(gen.module, x[:, c : c + 1], m) for c in range(3)], 1)
        else:  # an RGB run on grey: fill as RGB, keep the mean
            pred = gen.task.inpaint(gen.module, x.expand(1, 3, *x.shape[-2:]).contiguous(), m).mean(1, keepdim=True)
    filled = ((pred[0].float().clamp(-1, 1) + 1) / 2).permute(1, 2, 0).cpu().numpy()  # (H, W, c) in [0, 1]
    native = image.native
    if native.dtype.kind != "f":  # round to the file's levels: 255 or 65535
        filled = np.round(filled * image.max_value).astype(native.dtype)
    hole = mask[0, 0].cpu().numpy() > 0.5  # (H, W)
    result = native.copy()  # known pixels and alpha: the file's own samples, untouched
    result[hole, : image.channels] = filled[hole]
    return result


def _eight_bit(native: Any, max_value: float, *, keep_alpha: bool) -> Any:
    """For a lossy format: 8-bit samples; alpha kept only where the format has it (WebP, not JPEG)."""
    import numpy as np

    arr = native if keep_alpha or native.shape[2] in (1, 3) else native[..., :-1]
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    return np.round(np.clip(arr.astype(np.float32) / max_value, 0, 1) * 255).astype(np.uint8)


def _drift(target: Path, image: ganzoo_images.ImageData, mask: torch.Tensor, limit: int) -> str:
    """How far the known pixels moved in the lossy file, measured by reading it back."""
    import numpy as np

    back = ganzoo_images.load_image(target, limit=limit).colour()
    known = mask[0, 0].cpu().numpy() < 0.5
    moved = np.abs(back[..., : image.channels] - image.colour()[..., : back.shape[2]])[known]
    levels = int(np.round(moved.max() * 255)) if moved.size else 0
    return f"the known pixels now differ from {image.path.name} by up to {levels} of 255 levels"
