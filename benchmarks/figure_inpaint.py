"""Side-by-side figure of inpainting runs on their evaluation images (docs/inpainting.md).

Each row is one evaluation image: masked input (holes white) | each run's fill | original.
Every run must share the first run's evaluation data and holes (``task.params.mask``
and ``eval_seed``), which is checked: a figure of different holes would mislead.

    python benchmarks/figure_inpaint.py runs/biharmonic runs/deepfill runs/pconv \
        --n 8 --out docs/images/inpaint-faces-heldout.png
    python benchmarks/figure_inpaint.py /tmp/r/telea128 /tmp/r/lu128 runs/fill-unet-photos128 \
        --index 2 9 15 20 30 37 --out docs/images/inpaint-fill-unet-128.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ganzoo import for_evaluation, load_generator, load_registries
from ganzoo.images import save_grid


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="Finished inpainting run directories (the columns, in order).")
    ap.add_argument("--n", type=int, default=8, help="Evaluation images (rows), the first n of the evaluation data.")
    ap.add_argument("--index", type=int, nargs="+", help="Instead of the first n, these evaluation images (e.g. tiles and faces).")
    ap.add_argument("--out", type=Path, required=True, help="PNG to write.")
    args = ap.parse_args()

    reg = load_registries()
    gens = [load_generator(r, registries=reg) for r in args.runs]
    first = gens[0]
    for run, gen in zip(args.runs, gens):
        if gen.task.eval_protocol() != first.task.eval_protocol():
            raise SystemExit(f"{run} scores other holes than {args.runs[0]}: {gen.task.eval_protocol()} vs {first.task.eval_protocol()}")
    data_spec = first.spec.eval.data or first.spec.data  # type: ignore[attr-defined]
    dataset = for_evaluation(reg.build("dataset", data_spec.type, data_spec.params))
    index = args.index if args.index else range(min(args.n, len(dataset)))
    image = torch.stack([dataset[i]["image"] for i in index])  # (n, C, H, W)
    mask = first.task.eval_masks(image)  # (n, 1, H, W): a function of each image and eval_seed only
    masked = torch.where(mask > 0.5, torch.ones_like(image), image)
    with torch.no_grad():
        fills = [gen.task.inpaint(gen.module, image, mask) for gen in gens]  # each (n, C, H, W)
    columns = [masked, *fills, image]
    grid = torch.stack(columns, dim=1).flatten(0, 1)  # (n * cols, C, H, W), row-major
    save_grid(grid, args.out, nrow=len(columns))
    print(f"wrote {args.out}: {len(image)} rows of masked | {' | '.join(r.name for r in args.runs)} | original")


if __name__ == "__main__":
    main()
