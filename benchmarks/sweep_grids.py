"""Put the last sample grid of several runs of a `ganzoo compare` sweep side by side, labelled.

    python benchmarks/sweep_grids.py runs/compare-faces-architectures --seeds 0 1 2 --columns 8 \\
        --variants dcgan dcgan-ada r1-ema r1-ema-ada resnet-sngan resnet-sngan-ada stylegan2 stylegan2-ada \\
        --out docs/images/faces-architectures-3seeds.png
    python benchmarks/sweep_grids.py runs/compare-faces-architectures --seeds 0 1 2 --columns 2 \\
        --variants dcgan dcgan-ada --out docs/images/faces-dcgan-ada-3seeds.png      # a row per seed

Each panel is RUN/samples/step_*.png with the highest step, for the sweep's run
directory ``runs/VARIANT-sSEED``, with the variant's name above it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

LABEL_H = 16
GAP = 8


def last_grid(run: Path) -> Path:
    """The sample grid of the run's highest step."""
    grids = sorted((run / "samples").glob("step_*.png"))
    if not grids:
        raise SystemExit(f"{run} has no sample grids")
    return grids[-1]


def _is_grey(im: Image.Image) -> bool:
    """Whether every pixel has R = G = B (grey grids are saved as RGB)."""
    if im.mode in ("L", "1"):
        return True
    rgb = np.asarray(im.convert("RGB"))
    return bool((rgb == rgb[..., :1]).all())


def side_by_side(panels: list[tuple[str, Path]], columns: int) -> Image.Image:
    """One image of the panels, ``columns`` per row, each with its label on top."""
    opened = [(label, Image.open(path)) for label, path in panels]
    mode = "L" if all(_is_grey(im) for _, im in opened) else "RGB"  # a grey sheet of grey grids: a third of the bytes
    images = [(label, im.convert(mode)) for label, im in opened]
    w = max(im.width for _, im in images)
    h = max(im.height for _, im in images) + LABEL_H
    rows = -(-len(images) // columns)
    sheet = Image.new(mode, (columns * w + (columns - 1) * GAP, rows * h + (rows - 1) * GAP), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (label, im) in enumerate(images):
        x, y = (i % columns) * (w + GAP), (i // columns) * (h + GAP)
        draw.text((x + 2, y + 2), label, fill="black")
        sheet.paste(im, (x, y + LABEL_H))
    return sheet


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sweep_dir", type=Path)
    ap.add_argument("--variants", nargs="+", required=True)
    ap.add_argument("--seed", "--seeds", dest="seeds", type=int, nargs="+", default=[0], help="one or more; panels go seed by seed")
    ap.add_argument("--columns", type=int, default=4)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    panels = []
    for seed in a.seeds:
        for v in a.variants:
            grid = last_grid(a.sweep_dir / "runs" / f"{v}-s{seed}")
            steps = grid.stem.removeprefix("step_").lstrip("0") or "0"
            panels.append((f"{v}{f' s{seed}' if len(a.seeds) > 1 else ''} ({steps} steps)", grid))
    side_by_side(panels, a.columns).save(a.out, optimize=True)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
