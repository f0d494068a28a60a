"""``ganzoo upscale`` and ``ganzoo sr-eval``: a trained super-resolution run applied to files and to other data."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

import ganzoo.images as ganzoo_images
from ganzoo.errors import ConfigError, GanzooError

__all__ = ["ImageReadError", "output_names", "read_image", "sr_eval", "upscale"]

_16BIT = 65535.0


class ImageReadError(ganzoo_images.ImageReadError):
    """An input file is not a readable image (exit status 1); kept for callers that catch it from here."""


def read_image(path: Path, channels: int, *, limit: int | None = None) -> Any:
    """A file as (1, C, H, W) float in [-1, 1] (RGB for 3 channels, grey for 1; alpha dropped), read within the pixel limit."""
    import numpy as np
    import torch

    try:
        image = ganzoo_images.load_image(path, limit=limit)
    except ganzoo_images.ImageReadError as exc:
        raise ImageReadError(str(exc)) from None
    colour = image.colour()  # (H, W, c) in [0, 1]
    if colour.shape[-1] != channels:  # the ITU-R 601 luma Pillow's "L" uses, or grey repeated
        colour = colour @ np.array([[0.299], [0.587], [0.114]], np.float32) if channels == 1 else np.repeat(colour, 3, axis=-1)
    return torch.from_numpy(np.ascontiguousarray(colour.transpose(2, 0, 1)))[None] * 2 - 1


def output_names(inputs: list[Path], out_dir: Path, scale: int) -> list[Path]:
    """``OUT/<stem>_x<scale>.png`` per input, never the same twice.

    The first input with a stem gets ``<stem>_x4.png``; a later one with the same
    stem (``rgb.jpg`` after ``rgb.png``) gets its whole name, ``rgb.jpg_x4.png``,
    and after that a counter, ``rgb-1_x4.png``. Names are compared ignoring case,
    as macOS and Windows file systems do.
    """
    used: set[str] = set()
    names = []
    for path in inputs:
        candidates = [f"{path.stem}_x{scale}.png", f"{path.name}_x{scale}.png"]
        name = next((c for c in candidates if c.lower() not in used), None)
        k = 1
        while name is None or name.lower() in used:
            name, k = f"{path.stem}-{k}_x{scale}.png", k + 1
        used.add(name.lower())
        names.append(out_dir / name)
    return names


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _note(message: str) -> None:
    click.echo(f"note: {message}", err=True)


@click.command()
@click.argument("run", type=click.Path(file_okay=False, exists=True))
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Directory for the upscaled PNGs (created).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, mps or auto.")
@click.option("--tile", type=click.IntRange(8, None), default=None,
              help="Upscale in LR tiles of this side (default: the whole image, or tiles chosen to fit the free memory).")
@click.option("--tile-pad", type=click.IntRange(0, None), default=8, show_default=True, help="LR context pixels around each tile.")
@click.option("--max-pixels", "max_pixels", type=click.IntRange(1, None), default=None,
              help=f"Refuse inputs over this many pixels, checked before decoding (default: ${ganzoo_images.MAX_PIXELS_ENV} "
                   f"or {ganzoo_images.DEFAULT_MAX_PIXELS:,}).")
@click.option("--max-memory", "max_memory", type=click.FloatRange(0, None, min_open=True), default=None, metavar="GB",
              help="Memory one image may use on the device and the host (default: 80% of what is free).")
@click.option("--overwrite", is_flag=True, help="Replace existing output files (default: refuse before any work).")
@click.option("--checkpoint", default=None, metavar="latest|best|PATH",
              help="Weights from a checkpoint instead of the finished run's export (works on unfinished runs).")
def upscale(run: str, images: tuple[str, ...], out: str, device: str, tile: int | None, tile_pad: int, max_pixels: int | None,
            max_memory: float | None, overwrite: bool, checkpoint: str | None) -> None:
    """Upscale IMAGES with a trained super-resolution RUN (EMA weights when the run used EMA).

    Every input is read first, each refused over the pixel limit before it is
    decoded; if any cannot be read, nothing is written and the command exits 1
    naming each bad file. Outputs are OUT/<name>_x<scale>.png, never the same
    twice (rgb.png and rgb.jpg give rgb_x4.png and rgb.jpg_x4.png) and never over
    an existing file without --overwrite. Grey stays grey, an alpha channel is
    upscaled bicubically beside the colour, 16-bit grey is written as 16-bit.

    Before any compute the output memory is estimated (docs/super-resolution.md):
    an image whose network pass would not fit is upscaled in tiles automatically,
    one whose output alone would not fit is refused; running out of memory anyway
    is one message suggesting --tile.

    \b
    Examples:
      ganzoo upscale runs/00003-srresnet-x4 photo.png --out upscaled/
      ganzoo upscale runs/00005-esrgan-x4 *.jpg --out big/ --tile 128 --device cuda
    """
    try:
        _upscale(run, [Path(p) for p in images], Path(out), device, tile, tile_pad, max_pixels, max_memory, overwrite, checkpoint)
    except GanzooError as exc:  # also when the command runs outside the `ganzoo` group
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)


def _upscale(run: str, inputs: list[Path], out_dir: Path, device: str, tile: int | None, tile_pad: int, max_pixels: int | None,
             max_memory: float | None, overwrite: bool, checkpoint: str | None = None) -> None:
    from ganzoo.api import load_generator
    from ganzoo_sr.memory import available_memory, bytes_per_output_pixel, host_available, plan_upscale

    limit = ganzoo_images.max_pixels(max_pixels)  # a bad $GANZOO_MAX_IMAGE_PIXELS: before loading anything
    ganzoo_images.check_output_dir(out_dir)  # --out under a file or read-only: before any compute
    gen = load_generator(run, device=device, checkpoint=checkpoint)  # not a run, unfinished, corrupt weights: a GanzooError
    task = gen.task
    if not hasattr(task, "upscale"):
        _fail(f"{run} was trained with task {gen.spec.task.type!r}; upscale needs a super-resolution run")
    unique: dict[Path, Path] = {}
    for path in inputs:
        if unique.setdefault(path.resolve(), path) is not path:
            _note(f"{path} is given twice; upscaled once")
    loaded, bad = [], []
    for path in unique.values():
        try:
            loaded.append(ganzoo_images.load_image(path, limit=limit))
        except ganzoo_images.ImageReadError as exc:
            bad.append(str(exc))
    if bad:
        raise ImageReadError("\n".join(bad) + "\nnothing was written")
    targets = output_names([img.path for img in loaded], out_dir, task.scale)
    existing = [str(t) for t in targets if t.exists()]
    if existing and not overwrite:
        raise ganzoo_images.ImageOutputError(f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; "
                                             "pass --overwrite to replace, or another --out (nothing was written)")
    bpp = bytes_per_output_pixel(gen.module, gen.info.channels, gen.device)
    cap = max_memory * 1e9 if max_memory is not None else None
    host = cap if cap is not None else _fraction(host_available())
    dev = cap if cap is not None else _fraction(available_memory(gen.device))
    plans = [plan_upscale(str(img.path), img.size, scale=task.scale, channels=img.native.shape[2], bpp=bpp, tile=tile,
                          tile_pad=tile_pad, host_budget=host, device_budget=dev, shared=gen.device.type == "cpu") for img in loaded]
    for img, plan in zip(loaded, plans, strict=True):
        for note in img.notes + ([plan.note] if plan.note else []):
            _note(note)
        if img.channels != gen.info.channels:
            _note(f"{img.path.name}: the run is {'grey' if gen.info.channels == 1 else 'RGB'}; "
                  + ("each of R, G, B is upscaled on its own" if img.channels == 3 else "grey in, grey out (the RGB result's mean)"))
    done: list[Path] = []
    for img, target, plan in zip(loaded, targets, plans, strict=True):
        native = _upscaled(task, gen, img, plan.tile, tile_pad, written=done)
        ganzoo_images.save_image(ganzoo_images.to_pil(native), target)
        done.append(target)
        (h, w), (sh, sw) = img.size, native.shape[:2]
        click.echo(f"{img.path} ({w}x{h}) -> {target} ({sw}x{sh})")


def _fraction(free: int | None) -> float | None:
    return None if free is None else 0.8 * free  # leave a fifth for the allocator, the OS and whatever else runs


def _upscaled(task: Any, gen: Any, img: ganzoo_images.ImageData, tile: int | None, tile_pad: int, *, written: list[Path]) -> Any:
    """(sH, sW, C[+1]) uint8, or uint16 for 16-bit and float grey without alpha, of one image; the run's channels adapted."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    s = task.scale
    x = torch.from_numpy(img.colour().transpose(2, 0, 1))[None].mul_(2).sub_(1)  # (1, c, H, W) in [-1, 1]

    def run(lr: torch.Tensor) -> torch.Tensor:
        return task.upscale(gen.module, lr, device=gen.device, tile=tile, tile_pad=tile_pad)  # (1, C, sH, sW)

    try:
        if img.channels == gen.info.channels:
            sr = run(x)
        elif img.channels == 1:  # an RGB run on grey: grey in, grey out
            sr = run(x.expand(1, 3, *x.shape[-2:]).contiguous()).mean(1, keepdim=True)
        else:  # a grey run on colour: each channel is a grey image
            sr = torch.cat([run(x[:, c : c + 1]) for c in range(img.channels)], 1)
        del x
        alpha = img.alpha()
        if alpha is not None:  # transparency is not the network's business: bicubic, like the LR degradation's inverse
            a = F.interpolate(torch.from_numpy(alpha)[None, None], scale_factor=s, mode="bicubic", align_corners=False)
            sr = torch.cat([sr.add_(1).div_(2), a], 1)
        else:
            sr = sr.add_(1).div_(2)  # (1, C[+1], sH, sW) in [0, 1]
    except (MemoryError, RuntimeError) as exc:
        if not isinstance(exc, MemoryError) and not _is_oom(exc):
            raise
        if gen.device.type == "cuda":
            torch.cuda.empty_cache()
        h, w = img.size
        smaller = max(8, (tile or max(h, w)) // 2)
        done = f"; wrote {len(written)} file(s) before it" if written else "; nothing was written"
        raise ganzoo_images.ImageOutputError(
            f"out of memory upscaling {img.path} ({w}x{h} -> {w * s}x{h * s}) on {gen.device}"
            f"{f' in {tile}-pixel tiles' if tile else ''}: try --tile {smaller} (smaller tiles need less memory){done}", 1) from None
    wide = img.max_value != 255.0 and sr.shape[1] == 1  # Pillow writes 16 bits only for grey without alpha
    top = _16BIT if wide else 255.0
    out = sr[0].clamp_(0, 1).mul_(top).round_().permute(1, 2, 0)  # (sH, sW, C)
    return np.ascontiguousarray(out.numpy().astype(np.uint16 if wide else np.uint8))


def _is_oom(exc: BaseException) -> bool:
    """torch's OutOfMemoryError (CUDA), or the RuntimeError its CPU allocator raises."""
    import torch

    text = str(exc).lower()
    return isinstance(exc, torch.OutOfMemoryError) or any(
        k in text for k in ("out of memory", "not enough memory", "can't allocate memory", "cannot allocate memory"))


@click.command(name="sr-eval")
@click.argument("run", type=click.Path(file_okay=False, exists=True))
@click.option("--data-set", "data_set", multiple=True, metavar="KEY=VALUE", help="Override a param of the run's dataset (repeatable).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, mps or auto.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the values with their protocols to this file.")
def sr_eval(run: str, data_set: tuple[str, ...], device: str, json_out: str | None) -> None:
    """Evaluate RUN's eval.metrics on other data, e.g. the held-out photos: the same code as in-training evaluation.

    `ganzoo eval` measures on the run's training data; SR runs on sr-photos train on
    random crops, so held-out numbers need another split of the dataset.

    \b
    Example:
      ganzoo sr-eval runs/00003-srresnet-x4 --data-set split=heldout --json heldout.json
    """
    from pydantic import ValidationError

    from ganzoo import load_registries, parse_overrides
    from ganzoo.api import load_generator
    from ganzoo.evaluation import EvalContext, data_key, evaluate

    reg = load_registries()
    gen = load_generator(run, device=device, registries=reg)  # errors are GanzooErrors: `ganzoo` prints one message
    spec = gen.spec
    params = {**spec.data.params.model_dump(), **parse_overrides(list(data_set))}
    try:
        # The slot is a pydantic model at run time; RunSpec types its sections as protocols.
        data_spec = spec.data.model_validate({"type": spec.data.type, "params": params})  # type: ignore[attr-defined]
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'params'}: {e['msg']}" for e in exc.errors(include_url=False))
        raise ConfigError(f"--data-set: {problems}") from None
    dataset = reg.build("dataset", data_spec.type, data_spec.params)
    metrics = [reg.build("metric", m.type, m.params) for m in spec.eval.metrics]
    if not metrics:
        _fail(f"{run}'s spec has no eval.metrics")
    ctx = EvalContext(gen.task, gen.module, dataset, data_key(data_spec), gen.device, seed=spec.seed)
    result = evaluate(ctx, metrics)
    for key, value in result.values.items():
        click.echo(f"{key} = {value:.4f}  (n={result.protocols[key].get('n')}, data {data_spec.type} {json.dumps(params, default=str)})")
    if json_out:
        blob = {"run": str(run), "data": data_spec.model_dump(mode="json"), **result.to_json()}
        Path(json_out).write_text(json.dumps(blob, indent=2, sort_keys=True) + "\n")
        click.echo(f"wrote {json_out}")
