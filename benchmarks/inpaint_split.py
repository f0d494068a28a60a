"""Held-out hole PSNR and hole L1 of inpainting runs, for the photo tiles and the faces apart (docs/inpainting.md).

The held-out split of ``inpaint-photos`` ends with LFW faces 80-99, which are
25 px crops upscaled bicubically: band-limited, so a model can gain on them by
learning the upscaling rather than by filling holes. This scores every run on
its evaluation images and holes (which must match the first run's, as in
``figure_inpaint.py``) with the specs' conventions (per image, uint8, mean over
images), overall and split into tiles and faces. ``--band-limited`` adds the
classical control for the faces (``inpaint_correction_probe.band_limited_fill``).

    python benchmarks/inpaint_split.py runs/fill-unet-photos128 /tmp/r/biharmonic128 /tmp/r/lu128 --band-limited
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ganzoo import for_evaluation, load_generator, load_registries
from ganzoo.metrics import l1, psnr
from inpaint_correction_probe import HELDOUT_FACES, _u8, band_limited_fill


def _scores(pred: torch.Tensor, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image hole PSNR and hole L1 of ``pred`` composited into ``image``, as the specs score them (uint8). (N,), (N,)."""
    a, b = _u8(torch.where(mask.bool(), pred, image)), _u8(image)
    return psnr(a, b, mask=mask, reduction="none"), l1(a, b, mask=mask, reduction="none")


def _row(name: str, pred: torch.Tensor, image: torch.Tensor, mask: torch.Tensor, faces: int) -> str:
    """``| name | PSNR all | tiles | faces | L1 all | tiles | faces |`` of composited ``pred``."""
    p, e = _scores(pred, image, mask)
    cells = [f"{float(v.mean()):.2f}" for v in (p, p[:-faces], p[-faces:])]
    cells += [f"{float(v.mean()):.4f}" for v in (e, e[:-faces], e[-faces:])]
    return f"| {name} | " + " | ".join(cells) + " |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="Finished inpainting run directories (learned or baselines).")
    ap.add_argument("--faces", type=int, default=HELDOUT_FACES, help="How many images at the end of the evaluation data are faces.")
    ap.add_argument("--band-limited", action="store_true", help="Add the band-limited least-squares control (25 px) row.")
    ap.add_argument("--checkpoint", help="Weights of unfinished runs: latest, best or a file (finished runs and baselines: export).")
    args = ap.parse_args()
    torch.set_num_threads(1)
    reg = load_registries()
    # a run without an export (unfinished) is read from --checkpoint; finished runs and baselines from their export
    gens = [load_generator(r, registries=reg, checkpoint=None if (r / "generator.safetensors").is_file() else args.checkpoint)
            for r in args.runs]
    first = gens[0]
    for run, gen in zip(args.runs, gens, strict=True):
        if gen.task.eval_protocol() != first.task.eval_protocol():
            raise SystemExit(f"{run} scores other holes than {args.runs[0]}")
    data_spec = first.spec.eval.data or first.spec.data  # type: ignore[attr-defined]
    dataset = for_evaluation(reg.build("dataset", data_spec.type, data_spec.params))
    image = torch.stack([dataset[i]["image"] for i in range(len(dataset))])  # (N, C, H, W)
    mask = first.task.eval_masks(image)  # (N, 1, H, W)
    print(f"{len(image)} held-out images ({len(image) - args.faces} tiles, {args.faces} faces), {image.shape[-1]} px\n")
    print("| fill | hole PSNR | tiles | faces | hole L1 | tiles | faces |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for run, gen in zip(args.runs, gens, strict=True):
        with torch.no_grad():
            pred = torch.cat([gen.task.inpaint(gen.module, x, m) for x, m in zip(image.split(16), mask.split(16), strict=True)])
        print(_row(run.name, pred, image, mask, args.faces), flush=True)
    if args.band_limited:  # faces only: the tiles are not band-limited
        x, m = image[-args.faces :], mask[-args.faces :]
        p, e = _scores(band_limited_fill(x, m, low=25), x, m)
        print(f"| band-limited least squares (faces only) | - | - | {float(p.mean()):.2f} | - | - | {float(e.mean()):.4f} |")


if __name__ == "__main__":
    main()
