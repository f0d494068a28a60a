"""``ganzoo inpaint RUN IMG --mask MASK``: fill the holes of one image file with a trained run.

Mask files are images whose **white (255) pixels are the hole** and black (0)
pixels are kept; {0, 1}-valued files (1 = hole) are accepted too. Anything
else (grey levels from JPEG or anti-aliasing, a different size) is refused
with a message naming the convention, before any network runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ganzoo.errors import DataError, GanzooError

if TYPE_CHECKING:  # imported when the command runs: `ganzoo --help` must not pay for torch
    import numpy as np
    import torch

__all__ = ["inpaint", "read_image", "read_mask"]

_CONVENTION = "white (255) = hole to fill, black (0) = known pixel; or values 0/1 with 1 = hole"


class InputError(DataError):
    """A user-supplied file or run cannot be used; ``code`` (= ``exit_code``) is the exit status."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = self.exit_code = code


def _open(path: Path, what: str, mode: str) -> np.ndarray:
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()  # truncated pixel data fails here, not at open
            return np.array(im.convert(mode))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"cannot read {what} {path}: {reason} (is it a valid image file?)", 1) from None


def read_image(path: Path, channels: int) -> torch.Tensor:
    """(1, C, H, W) float in [-1, 1] from an image file, converted to the run's channel count."""
    import numpy as np
    import torch

    arr = _open(path, "image", "L" if channels == 1 else "RGB").astype(np.float32)  # (H, W) or (H, W, 3)
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)  # (C, H, W)
    return torch.from_numpy(np.ascontiguousarray(arr))[None] / 127.5 - 1.0


def read_mask(path: Path, size: tuple[int, int]) -> torch.Tensor:
    """(1, 1, H, W) float mask, 1 = hole, from a mask image whose white pixels are the hole.

    Raises:
        InputError: Unreadable (exit 1), wrong size or not binary (exit 2).
    """
    import numpy as np
    import torch

    arr = _open(path, "mask", "L")  # (H, W) uint8
    if arr.shape != size:
        raise InputError(f"mask {path} is {arr.shape[1]}x{arr.shape[0]} but the image is {size[1]}x{size[0]}; they must match ({_CONVENTION})", 2)
    values = set(np.unique(arr).tolist())
    if values <= {0, 255}:
        hole = arr == 255
    elif values <= {0, 1}:
        hole = arr == 1
    else:
        shown = sorted(values)[:6]
        raise InputError(f"mask {path} is not binary: {len(values)} grey levels such as {shown} (JPEG or anti-aliasing?); "
                         f"threshold it and save as PNG ({_CONVENTION})", 2)
    return torch.from_numpy(hole.astype(np.float32))[None, None]


@click.command(name="inpaint")
@click.argument("run", type=click.Path(file_okay=False, exists=True))
@click.argument("image", type=click.Path(dir_okay=False, exists=True))
@click.option("--mask", "mask_path", required=True, type=click.Path(dir_okay=False, exists=True),
              help="Mask image of the same size: white (255) = hole to fill, black (0) = keep.")
@click.option("--out", type=click.Path(dir_okay=False), help="Output PNG (default: IMAGE's name with -inpainted.png, next to it).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, mps or auto.")
def inpaint(run: str, image: str, mask_path: str, out: str | None, device: str) -> None:
    """Fill the holes of IMAGE with a trained inpainting RUN; known pixels are kept exactly.

    The mask follows ganzoo's convention, 1 = hole: in a mask file white is the
    hole. A mask of another size, or with grey levels, is refused (exit 2).

    \b
    Example:
      ganzoo inpaint runs/00003-pconv-faces face.png --mask holes.png --out filled.png
    """
    import torch

    from ganzoo import load_generator

    try:
        gen = load_generator(run, device=device)
        task_type = gen.spec.task.type  # type: ignore[attr-defined]
        if task_type != "inpainting":
            raise InputError(f"{run} was trained for task {task_type!r}; `ganzoo inpaint` needs an inpainting run", 2)
        img = read_image(Path(image), gen.info.channels).to(gen.device)  # (1, C, H, W)
        mask = read_mask(Path(mask_path), (img.shape[-2], img.shape[-1])).to(gen.device)  # (1, 1, H, W)
        result = gen.task.inpaint(gen.module, img, mask)  # (1, C, H, W)
    except GanzooError as exc:  # a bad run directory, file or mask; also when the command runs outside `ganzoo`
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    from PIL import Image

    target = Path(out) if out else Path(image).with_name(Path(image).stem + "-inpainted.png")
    pixels = ((result[0].float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()  # (H, W, C)
    try:
        Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(target)
    except (OSError, ValueError) as exc:
        click.echo(f"error: cannot write {target}: {exc}", err=True)
        sys.exit(1)
    click.echo(f"wrote {target}")
