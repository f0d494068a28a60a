"""``ganzoo inpaint RUN IMG --mask MASK``: fill the holes of an image file (or a folder of them) with a trained run.

The work is ``ganzoo.inpaint`` (ganzoo/inpainting_api.py), the Python API, on
the file's own samples; this module reads and writes files. Mask files are
images whose **white pixels are the hole** and black pixels are kept; {0, 1}
files (1 = hole) are accepted too; grey levels (anti-aliasing, JPEG) are
thresholded at mid-grey with a note; a mask that is mostly grey, coloured or of
another size is refused with a message naming the convention, before any
network runs. With a folder IMAGE, --mask is a folder and masks are matched to
images by file-name stem.

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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

import ganzoo.images as ganzoo_images
from ganzoo.errors import DataError, GanzooError
from ganzoo_inpaint.resize import DEFAULT_MAX_SIDE

if TYPE_CHECKING:  # imported when the command runs: `ganzoo --help` must not pay for torch
    import torch

__all__ = ["inpaint", "output_path", "read_image"]

_CONVENTION = "white (255) = hole to fill, black (0) = known pixel; or values 0/1 with 1 = hole"
_LOSSLESS = (".png", ".tif", ".tiff")
_LOSSY = (".jpg", ".jpeg", ".webp")
_READABLE = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")


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
@click.argument("image", type=click.Path(exists=True))
@click.option("--mask", "mask_path", required=True, type=click.Path(exists=True),
              help="Mask image of the same size (white = hole to fill, black = keep), or with a folder IMAGE a folder of "
                   "masks matched to the images by file name stem.")
@click.option("--out", type=click.Path(),
              help="Output file, .png or .tif (default: IMAGE's name with -inpainted.png, next to it); .jpg/.webp need --lossy. "
                   "With a folder IMAGE: the output folder (default: IMAGE-inpainted), one lossless file per image.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, mps or auto.")
@click.option("--max-side", "max_side", type=click.IntRange(0, None), default=DEFAULT_MAX_SIDE, show_default=True,
              help="Images with a longer side are filled on a copy downscaled to it, the fill upsampled into the holes; 0: never.")
@click.option("--max-pixels", "max_pixels", type=click.IntRange(1, None), default=None,
              help=f"Refuse an image or mask over this many pixels, checked before decoding (default: ${ganzoo_images.MAX_PIXELS_ENV} "
                   f"or {ganzoo_images.DEFAULT_MAX_PIXELS:,}).")
@click.option("--lossy", is_flag=True, help="Allow a lossy --out (.jpg, .webp): the known pixels then change.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file (default: refuse before any work).")
@click.option("--checkpoint", default=None, metavar="latest|best|PATH",
              help="Weights from a checkpoint instead of the finished run's export (works on unfinished runs).")
def inpaint(run: str, image: str, mask_path: str, out: str | None, device: str, max_side: int, max_pixels: int | None, lossy: bool,
            overwrite: bool, checkpoint: str | None) -> None:
    """Fill the holes of IMAGE (a file, or a folder of them) with a trained inpainting RUN; known pixels are kept exactly.

    The mask follows ganzoo's convention, 1 = hole: in a mask file white is the
    hole. Anti-aliased or JPEG masks are thresholded at mid-grey (with a note);
    a mask of another size, coloured, or mostly grey (a photo, noise) is refused
    (exit 2). Any image size works: the image is padded to the network's
    multiple by reflection and cropped back, and above --max-side filled on a
    downscaled copy. The output has IMAGE's mode (grey, RGB, alpha, 16-bit)
    whatever the run's channels, and is lossless unless --lossy; an existing
    file needs --overwrite.

    \b
    Examples:
      ganzoo inpaint runs/00003-pconv-faces face.png --mask holes.png --out filled.png
      ganzoo inpaint runs/00003-pconv-faces photos/ --mask masks/ --out filled/
    """
    options = _Options(device, max_side, ganzoo_images.max_pixels(max_pixels), lossy, overwrite, checkpoint)
    try:
        if Path(image).is_dir():
            _inpaint_folder(run, Path(image), Path(mask_path), out, options)
        else:
            _inpaint(run, Path(image), Path(mask_path), out, options)
    except GanzooError as exc:  # a bad run directory, file or mask; also when the command runs outside `ganzoo`
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)


@dataclass(frozen=True)
class _Options:
    device: str
    max_side: int
    limit: int
    lossy: bool
    overwrite: bool
    checkpoint: str | None


def _note(text: str) -> None:
    click.echo(f"note: {text}", err=True)


def _generator(run: str, options: _Options) -> Any:
    from ganzoo import load_generator

    gen = load_generator(run, device=options.device, checkpoint=options.checkpoint)
    task_type = gen.spec.task.type
    if task_type != "inpainting":
        raise InputError(f"{run} was trained for task {task_type!r}; `ganzoo inpaint` needs an inpainting run", 2)
    return gen


def _read(image_path: Path, limit: int) -> ganzoo_images.ImageData:
    image = ganzoo_images.load_image(image_path, limit=limit)
    if not image.lossless:
        raise InputError(f"{'; '.join(image.notes)}: its known pixels could not be written back unchanged; "
                         "convert it to 8-bit RGB (or grey) PNG first", 2)
    return image


def _fill(gen: Any, image: ganzoo_images.ImageData, mask_path: Path, options: _Options) -> Any:
    """IMAGE's native samples with the holes filled: ganzoo.inpaint on the file's own samples (the Python API's code)."""
    from ganzoo import inpaint as fill

    for note in image.notes:
        _note(note)
    return fill(gen, image.native, mask_path, max_side=options.max_side, max_pixels=options.limit, note=_note)


def _inpaint(run: str, image_path: Path, mask_path: Path, out: str | None, options: _Options) -> None:
    if mask_path.is_dir():
        raise InputError(f"--mask {mask_path} is a folder: with a folder of masks, IMAGE must be a folder of images too", 2)
    gen = _generator(run, options)
    image = _read(image_path, options.limit)
    target = output_path(image, out, lossy=options.lossy, overwrite=options.overwrite)
    result = _fill(gen, image, mask_path, options)
    if target.suffix.lower() in _LOSSY:
        small = _eight_bit(result, image.max_value, keep_alpha=target.suffix.lower() == ".webp")
        ganzoo_images.save_image(ganzoo_images.to_pil(small), target, quality=95)
        click.echo(f"note: {target.suffix} is lossy: {_drift(target, image, result, options.limit)}", err=True)
    else:
        ganzoo_images.save_image(ganzoo_images.to_pil(result), target)
    click.echo(f"wrote {target}")


def _pairs(images_dir: Path, masks_dir: Path) -> list[tuple[Path, Path]]:
    """(image, mask) files matched by stem; an image without a mask is an error, a mask without an image a note."""
    if not masks_dir.is_dir():
        raise InputError(f"IMAGE {images_dir} is a folder, so --mask must be a folder of masks too, not {masks_dir}", 2)

    def files(folder: Path) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in _READABLE:
                if path.stem in found:
                    raise InputError(f"{found[path.stem].name} and {path.name} in {folder} share the name {path.stem!r}; "
                                     "images and masks are matched by name, so keep one", 2)
                found[path.stem] = path
        return found

    images, masks = files(images_dir), files(masks_dir)
    if not images:
        raise InputError(f"no image files in {images_dir} (looked for {', '.join(_READABLE)})", 2)
    missing = sorted(set(images) - set(masks))
    if missing:
        shown = ", ".join(images[s].name for s in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise InputError(f"{len(missing)} of {len(images)} images in {images_dir} have no mask of the same name in {masks_dir}: "
                         f"{shown}", 2)
    extra = sorted(set(masks) - set(images))
    if extra:
        _note(f"{len(extra)} masks in {masks_dir} have no image and are ignored (first: {masks[extra[0]].name})")
    return [(images[s], masks[s]) for s in sorted(images)]


def _inpaint_folder(run: str, images_dir: Path, masks_dir: Path, out: str | None, options: _Options) -> None:
    """Every image of IMAGES_DIR with the mask of the same stem; a failing pair is reported and skipped.

    A failure is a bad mask or image, or an existing output without --overwrite; the exit status is the first one's.
    """
    pairs = _pairs(images_dir, masks_dir)
    out_dir = ganzoo_images.check_output_dir(Path(out) if out else images_dir.with_name(images_dir.name + "-inpainted"))
    if out_dir.resolve() == images_dir.resolve():
        raise InputError(f"--out {out_dir} is the images' own folder; write the results elsewhere", 2)
    gen = _generator(run, options)
    failed: list[GanzooError] = []
    for image_path, mask_path in pairs:
        try:
            image = _read(image_path, options.limit)
            name = image_path.stem + (".tif" if image.native.dtype.kind == "f" else ".png")
            target = output_path(image, str(out_dir / name), lossy=False, overwrite=options.overwrite)
            ganzoo_images.save_image(ganzoo_images.to_pil(_fill(gen, image, mask_path, options)), target)
            click.echo(f"wrote {target}")
        except GanzooError as exc:
            click.echo(f"error: {image_path.name}: {exc}", err=True)
            failed.append(exc)
    if failed:
        click.echo(f"error: {len(failed)} of {len(pairs)} images were not inpainted (see above)", err=True)
        sys.exit(failed[0].exit_code)


def _eight_bit(native: Any, max_value: float, *, keep_alpha: bool) -> Any:
    """For a lossy format: 8-bit samples; alpha kept only where the format has it (WebP, not JPEG)."""
    import numpy as np

    arr = native if keep_alpha or native.shape[2] in (1, 3) else native[..., :-1]
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    return np.round(np.clip(arr.astype(np.float32) / max_value, 0, 1) * 255).astype(np.uint8)


def _drift(target: Path, image: ganzoo_images.ImageData, result: Any, limit: int) -> str:
    """How far the known pixels (those the fill left as they were) moved in the lossy file, measured by reading it back."""
    import numpy as np

    back = ganzoo_images.load_image(target, limit=limit).colour()
    known = (result[..., : image.channels] == image.native[..., : image.channels]).all(axis=-1)
    moved = np.abs(back[..., : image.channels] - image.colour()[..., : back.shape[2]])[known]
    levels = int(np.round(moved.max() * 255)) if moved.size else 0
    return f"the known pixels now differ from {image.path.name} by up to {levels} of 255 levels"
