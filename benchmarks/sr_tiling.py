"""Tiled against whole-image upscaling of trained SR runs: how many 8-bit levels the tile pad costs.

Usage (docs/super-resolution.md, "Automatic tiling"):
    OMP_NUM_THREADS=1 python benchmarks/sr_tiling.py RUN [RUN ...] [--tile 256] [--pads 8 16 24]

Upscales skimage's astronaut resized to 1000x800 once whole and once per pad in
``--tile`` LR tiles, and prints the largest difference and the number of differing samples.
"""

from __future__ import annotations

import argparse

import numpy as np
import skimage.data
import torch
from PIL import Image

import ganzoo
from ganzoo.api import load_generator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="trained super-resolution run directories")
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--pads", type=int, nargs="+", default=[8, 16, 24])
    args = parser.parse_args()
    torch.set_num_threads(1)
    image = Image.fromarray(skimage.data.astronaut()).resize((1000, 800), Image.BICUBIC)
    for run in args.runs:
        gen = load_generator(run)
        whole = np.asarray(ganzoo.upscale(gen, image, tile=0)).astype(int)
        for pad in args.pads:
            tiled = np.asarray(ganzoo.upscale(gen, image, tile=args.tile, tile_pad=pad)).astype(int)
            diff = np.abs(tiled - whole)
            print(f"{run}  pad {pad}: max {diff.max()} levels, {int((diff > 0).sum())} of {diff.size} samples differ", flush=True)  # noqa: T201


if __name__ == "__main__":
    main()
