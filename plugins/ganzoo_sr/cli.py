"""``ganzoo upscale`` and ``ganzoo sr-eval``: a trained super-resolution run applied to files and to other data."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

import ganzoo.images as ganzoo_images
from ganzoo.errors import ConfigError, GanzooError
from ganzoo.upscaling import AUTO_TILE, AUTO_TILE_PIXELS, DEFAULT_TILE_PAD

__all__ = ["ImageReadError", "expand_inputs", "output_names", "read_image", "sr_eval", "upscale"]

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


def output_names(inputs: list[Path], out_dir: Path, scale: int, ext: str | Sequence[str] = "png") -> list[Path]:
    """``OUT/<stem>_x<scale>.<ext>`` per input (``ext`` one for all or one per input), never the same twice.

    The first input with a stem gets ``<stem>_x4.png``; a later one with the same
    stem (``rgb.jpg`` after ``rgb.png``) gets its whole name, ``rgb.jpg_x4.png``,
    and after that a counter, ``rgb-1_x4.png``. Names are compared ignoring case,
    as macOS and Windows file systems do.
    """
    exts = [ext] * len(inputs) if isinstance(ext, str) else list(ext)
    used: set[str] = set()
    names = []
    for path, e in zip(inputs, exts, strict=True):
        candidates = [f"{path.stem}_x{scale}.{e}", f"{path.name}_x{scale}.{e}"]
        name = next((c for c in candidates if c.lower() not in used), None)
        k = 1
        while name is None or name.lower() in used:
            name, k = f"{path.stem}-{k}_x{scale}.{e}", k + 1
        used.add(name.lower())
        names.append(out_dir / name)
    return names


def expand_inputs(inputs: list[Path]) -> list[Path]:
    """Files as given; a folder becomes its image files (top level, sorted by name, hidden files skipped).

    Raises:
        ImageReadError: A folder holds no image file (exit 1).
    """
    from ganzoo_sr.paired import EXTENSIONS

    out: list[Path] = []
    for path in inputs:
        if not path.is_dir():
            out.append(path)
            continue
        found = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in EXTENSIONS)
        if not found:
            raise ImageReadError(f"folder {path} holds no image files ({', '.join(sorted(EXTENSIONS))}) at its top level; "
                                 "nothing was written")
        out.extend(found)
    return out


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _note(message: str) -> None:
    click.echo(f"note: {message}", err=True)


@click.command()
@click.argument("run", type=click.Path(file_okay=False, exists=True))
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Directory for the upscaled images (created).")
@click.option("--ext", type=click.Choice(["png", "jpg", "auto"]), default="png", show_default=True,
              help="Output format: png (lossless), jpg, or auto (jpg for JPEG inputs, png for the rest).")
@click.option("--quality", type=click.IntRange(1, 100), default=95, show_default=True, help="JPEG quality of jpg outputs.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, mps or auto.")
@click.option("--tile", type=click.IntRange(0, None), default=None,
              help=f"Upscale in LR tiles of this side; 0: the whole image at once (default: tiles of {AUTO_TILE} above "
                   f"{AUTO_TILE_PIXELS:,} LR pixels, or tiles chosen to fit the free memory).")
@click.option("--tile-pad", type=click.IntRange(0, None), default=DEFAULT_TILE_PAD, show_default=True,
              help="LR context pixels around each tile.")
@click.option("--max-pixels", "max_pixels", type=click.IntRange(1, None), default=None,
              help=f"Refuse inputs over this many pixels, checked before decoding (default: ${ganzoo_images.MAX_PIXELS_ENV} "
                   f"or {ganzoo_images.DEFAULT_MAX_PIXELS:,}).")
@click.option("--max-memory", "max_memory", type=click.FloatRange(0, None, min_open=True), default=None, metavar="GB",
              help="Memory one image may use on the device and the host (default: 80% of what is free).")
@click.option("--overwrite", is_flag=True, help="Replace existing output files (default: refuse before any work).")
@click.option("--checkpoint", default=None, metavar="latest|best|PATH",
              help="Weights from a checkpoint instead of the finished run's export (works on unfinished runs).")
def upscale(run: str, images: tuple[str, ...], out: str, ext: str, quality: int, device: str, tile: int | None, tile_pad: int,
            max_pixels: int | None, max_memory: float | None, overwrite: bool, checkpoint: str | None) -> None:
    """Upscale IMAGES (files, or folders of them) with a trained super-resolution RUN (EMA weights when the run used EMA).

    A folder stands for its image files (top level, sorted, hidden files skipped).
    Every input is read first, each refused over the pixel limit before it is
    decoded; if any cannot be read, nothing is written and the command exits 1
    naming each bad file. Outputs are OUT/<name>_x<scale>.<ext>, never the same
    twice (rgb.png and rgb.jpg give rgb_x4.png and rgb.jpg_x4.png) and never over
    an existing file without --overwrite. Grey stays grey, an alpha channel is
    upscaled bicubically beside the colour (so --ext jpg refuses images with
    alpha), 16-bit grey is written as 16-bit PNG.

    Inputs over 512x512 LR pixels are upscaled in 256-pixel tiles. Before any
    compute the output memory is estimated (docs/super-resolution.md): an image
    whose network pass would not fit is upscaled in smaller tiles, one whose
    output alone would not fit is refused; running out of memory anyway is one
    message suggesting --tile.

    \b
    Examples:
      ganzoo upscale runs/00003-srresnet-x4 photo.png --out upscaled/
      ganzoo upscale runs/00005-esrgan-x4 photos/ --out big/ --ext auto --device cuda
    """
    try:
        _upscale(run, [Path(p) for p in images], Path(out), device, tile, tile_pad, max_pixels, max_memory, overwrite, checkpoint,
                 ext=ext, quality=quality)
    except GanzooError as exc:  # also when the command runs outside the `ganzoo` group
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)


def _upscale(run: str, inputs: list[Path], out_dir: Path, device: str, tile: int | None, tile_pad: int, max_pixels: int | None,
             max_memory: float | None, overwrite: bool, checkpoint: str | None = None, *, ext: str = "png", quality: int = 95) -> None:
    from ganzoo import upscale as upscale_image
    from ganzoo.api import load_generator
    from ganzoo_sr.memory import available_memory, bytes_per_output_pixel, host_available, plan_upscale

    limit = ganzoo_images.max_pixels(max_pixels)  # a bad $GANZOO_MAX_IMAGE_PIXELS: before loading anything
    ganzoo_images.check_output_dir(out_dir)  # --out under a file or read-only: before any compute
    inputs = expand_inputs(inputs)
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
    exts = [_out_ext(ext, img.path) for img in loaded]
    alpha = [str(img.path) for img, e in zip(loaded, exts, strict=True) if e == "jpg" and img.has_alpha]
    if alpha:
        raise ConfigError(f"JPEG has no alpha channel: {', '.join(alpha)} would lose transparency; use --ext png or --ext auto "
                          "(nothing was written)")
    targets = output_names([img.path for img in loaded], out_dir, task.scale, exts)
    existing = [str(t) for t in targets if t.exists()]
    if existing and not overwrite:
        raise ganzoo_images.ImageOutputError(f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; "
                                             "pass --overwrite to replace, or another --out (nothing was written)")
    bpp = bytes_per_output_pixel(gen.module, gen.info.channels, gen.device)
    cap = max_memory * 1e9 if max_memory is not None else None
    host = cap if cap is not None else _fraction(host_available())
    dev = cap if cap is not None else _fraction(available_memory(gen.device))
    plans = [plan_upscale(str(img.path), img.size, scale=task.scale, channels=img.native.shape[2], bpp=bpp, tile=tile or None,
                          tile_pad=tile_pad, host_budget=host, device_budget=dev, shared=gen.device.type == "cpu") for img in loaded]
    for img, plan in zip(loaded, plans, strict=True):
        for note in img.notes + ([plan.note] if plan.note and tile != 0 else []):  # --tile 0: the user's whole pass
            _note(note)
    done: list[Path] = []
    for img, target, plan in zip(loaded, targets, plans, strict=True):
        chosen = None if tile == 0 else plan.tile  # --tile 0: one whole pass; else --tile, the size rule or the memory's tile
        try:
            native = upscale_image(gen, img, tile=chosen, tile_pad=tile_pad, note=_note)  # (sH, sW, C[+1])
        except (MemoryError, RuntimeError) as exc:
            if not isinstance(exc, MemoryError) and not _is_oom(exc):
                raise
            raise _oom_error(gen, img, plan.tile, done) from None
        _save(native, target, quality, img.path.name)
        done.append(target)
        (h, w), (sh, sw) = img.size, native.shape[:2]
        click.echo(f"{img.path} ({w}x{h}) -> {target} ({sw}x{sh})")


def _out_ext(ext: str, path: Path) -> str:
    if ext != "auto":
        return ext
    return "jpg" if path.suffix.lower() in (".jpg", ".jpeg") else "png"


def _save(native: Any, target: Path, quality: int, name: str) -> None:
    """Write (H, W, C) samples: PNG as they are; JPEG at ``quality``, 16-bit grey reduced to 8 bits with a note."""
    import numpy as np

    params: dict[str, Any] = {}
    if target.suffix == ".jpg":
        params = {"quality": quality}
        if native.dtype != np.uint8:
            _note(f"{name}: JPEG holds 8 bits; the 16-bit result is written as 8-bit")
            native = np.round(native.astype(np.float64) / 257.0).astype(np.uint8)
    ganzoo_images.save_image(ganzoo_images.to_pil(native), target, **params)


def _fraction(free: int | None) -> float | None:
    return None if free is None else 0.8 * free  # leave a fifth for the allocator, the OS and whatever else runs


def _oom_error(gen: Any, img: ganzoo_images.ImageData, tile: int | None, written: list[Path]) -> GanzooError:
    """One message for running out of memory on ``img``: what was asked, a smaller --tile, what was written before."""
    import torch

    if gen.device.type == "cuda":
        torch.cuda.empty_cache()
    s = gen.task.scale
    h, w = img.size
    smaller = max(8, (tile or max(h, w)) // 2)
    done = f"; wrote {len(written)} file(s) before it" if written else "; nothing was written"
    return ganzoo_images.ImageOutputError(
        f"out of memory upscaling {img.path} ({w}x{h} -> {w * s}x{h * s}) on {gen.device}"
        f"{f' in {tile}-pixel tiles' if tile else ''}: try --tile {smaller} (smaller tiles need less memory){done}", 1)


def _is_oom(exc: BaseException) -> bool:
    """torch's OutOfMemoryError (CUDA), or the RuntimeError its CPU allocator raises."""
    import torch

    text = str(exc).lower()
    return isinstance(exc, torch.OutOfMemoryError) or any(
        k in text for k in ("out of memory", "not enough memory", "can't allocate memory", "cannot allocate memory"))


@click.command(name="sr-eval")
@click.argument("run", type=click.Path(file_okay=False, exists=True))
@click.option("--data", "data", default=None, metavar="FOLDER|TYPE",
              help="Evaluate on other data: a folder of HR images (an sr-benchmark at the run's scale, e.g. Set5) or a "
                   "dataset type whose params --data-set gives (default: the run's own dataset).")
@click.option("--lr-folder", "lr_folder", type=click.Path(file_okay=False, exists=True), default=None,
              help="With --data FOLDER: LR images matched by stem instead of the bicubic LR.")
@click.option("--data-set", "data_set", multiple=True, metavar="KEY=VALUE", help="Set a param of the dataset (repeatable).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, mps or auto.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the values with their protocols to this file.")
@click.option("--self-ensemble", "self_ensemble", is_flag=True,
              help="Score the x8 geometric self-ensemble (EDSR+) whatever the run's task.params.self_ensemble; the protocol says so.")
def sr_eval(run: str, data: str | None, lr_folder: str | None, data_set: tuple[str, ...], device: str, json_out: str | None,
            self_ensemble: bool = False) -> None:
    """Evaluate RUN's eval.metrics on other data, e.g. a benchmark folder or the held-out photos: the in-training evaluation code.

    `ganzoo eval` measures on the run's training data; SR runs on sr-photos train on
    random crops, so held-out numbers need another split of the dataset. On a
    benchmark folder (--data FOLDER or --data sr-benchmark) every image is scored
    on its own and the mean is over images, as BasicSR reports Set5/Set14/BSD100.

    \b
    Examples:
      ganzoo sr-eval runs/00003-srresnet-x4 --data-set split=heldout --json heldout.json
      ganzoo sr-eval runs/00003-srresnet-x4 --data ~/data/Set5/HR
      ganzoo sr-eval runs/00003-srresnet-x4 --data ~/data/Set5/HR --lr-folder ~/data/Set5/LR_bicubic/X4 --json set5.json
      ganzoo sr-eval runs/edsr-lite-x4 --data-set split=heldout --data-set size=96 --self-ensemble
    """
    from ganzoo import load_registries
    from ganzoo.api import load_generator
    from ganzoo.evaluation import EvalContext, data_key, evaluate
    from ganzoo_sr.benchmark import SRBenchmark, evaluate_per_image

    reg = load_registries()
    gen = load_generator(run, device=device, registries=reg)  # errors are GanzooErrors: `ganzoo` prints one message
    spec = gen.spec
    if self_ensemble:
        gen.task.params = gen.task.params.model_copy(update={"self_ensemble": True})
    data_spec = _data_spec(gen, reg, data, lr_folder, data_set)
    dataset = reg.build("dataset", data_spec.type, data_spec.params)
    metrics = [reg.build("metric", m.type, m.params) for m in spec.eval.metrics]
    if not metrics:
        _fail(f"{run}'s spec has no eval.metrics")
    shown = json.dumps(data_spec.params.model_dump(mode="json", exclude_defaults=True), default=str)
    rows: list[dict[str, float]] = []
    if isinstance(dataset, SRBenchmark):
        rows, result = evaluate_per_image(gen.task, gen.module, dataset, data_key(data_spec), gen.device, metrics)
        width = max(len("image"), *(len(n) for n in dataset.names))
        keys = list(result.values)
        click.echo("  ".join([f"{'image':<{width}}", *(f"{k:>14}" for k in keys)]))
        for name, row in zip(dataset.names, rows, strict=True):
            click.echo("  ".join([f"{name:<{width}}", *(f"{row[k]:>14.4f}" for k in keys)]))
        click.echo("  ".join([f"{'mean':<{width}}", *(f"{result.values[k]:>14.4f}" for k in keys)]))
    else:
        ctx = EvalContext(gen.task, gen.module, dataset, data_key(data_spec), gen.device, seed=spec.seed)
        result = evaluate(ctx, metrics)
    for key, value in result.values.items():
        click.echo(f"{key} = {value:.4f}  (n={result.protocols[key].get('n')}, data {data_spec.type} {shown})")
    if json_out:
        blob: dict[str, Any] = {"run": str(run), "data": data_spec.model_dump(mode="json"), **result.to_json()}
        if rows:
            blob["per_image"] = [{"image": name, **row} for name, row in zip(dataset.names, rows, strict=True)]
        Path(json_out).write_text(json.dumps(blob, indent=2, sort_keys=True) + "\n")
        click.echo(f"wrote {json_out}")


def _data_spec(gen: Any, reg: Any, data: str | None, lr_folder: str | None, data_set: tuple[str, ...]) -> Any:
    """The data component to evaluate on, validated as a spec's ``eval.data`` is (its type and params checked).

    Without ``data``: the run's own dataset with ``data_set`` overrides. With a folder:
    ``sr-benchmark`` on it. With a type: that dataset from ``data_set``. Params
    named ``scale`` and ``channels`` default to the run's.
    """
    from typing import get_args

    from pydantic import ValidationError

    from ganzoo import parse_overrides

    spec = gen.spec
    overrides = parse_overrides(list(data_set))
    if data is None:
        if lr_folder is not None:
            raise ConfigError("--lr-folder goes with --data FOLDER (a benchmark folder of HR images)")
        kind, params = spec.data.type, {**spec.data.params.model_dump(), **overrides}
    else:
        if Path(data).expanduser().is_dir():
            kind, given = "sr-benchmark", {"hr": str(Path(data).expanduser())}
        elif data in reg["dataset"].names():
            kind, given = data, {}
        else:
            raise ConfigError(f"--data {data!r} is neither a folder nor a dataset type (datasets: {', '.join(reg['dataset'].names())})")
        if lr_folder is not None:
            given["lr"] = lr_folder
        fields = reg["dataset"].get(kind).params.model_fields
        from_run = {"scale": gen.task.scale, "channels": gen.info.channels}
        params = {**{k: v for k, v in from_run.items() if k in fields}, **given, **overrides}
    # The spec's data slot is a union of one model per installed dataset; validate with this type's, as eval.data is.
    member = next(m for m in get_args(type(spec).model_fields["data"].annotation) if get_args(m.model_fields["type"].annotation) == (kind,))
    try:
        checked = member.model_validate({"type": kind, "params": params})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'params'}: {e['msg']}" for e in exc.errors(include_url=False))
        raise ConfigError(f"data {kind}: {problems}") from None
    scale = getattr(checked.params, "scale", gen.task.scale)
    if scale != gen.task.scale:
        raise ConfigError(f"data {kind} has scale {scale} but the run upscales x{gen.task.scale}; evaluate at the run's scale")
    return checked
