"""Markdown table of inpainting runs' held-out scores from their ``eval.json`` (docs/inpainting.md, docs/benchmarks.md).

One row per run: hole PSNR and hole L1 on the task's own holes, then hole PSNR
per ``inpaint-buckets`` hole-area bucket, and the bucket means of PSNR and L1.
``--curve`` prints a learned run's evaluations over training instead (its
``metrics.jsonl``), the learning curve.

    python benchmarks/inpaint_table.py runs/fill-unet-photos128 /tmp/r/biharmonic128 /tmp/r/telea128
    python benchmarks/inpaint_table.py --curve runs/fill-unet-photos128
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

BUCKETS = ("b0-10", "b10-20", "b20-30", "b30-40", "b40-50", "b50-60")
HEADER = ("| {first} | hole PSNR | hole L1 | " + " | ".join(BUCKETS) + " | bucket mean PSNR | bucket mean L1 |\n"
          "| --- | ---: | ---: | " + " | ".join("---:" for _ in BUCKETS) + " | ---: | ---: |")


def _cells(values: dict[str, Any]) -> str:
    def get(key: str) -> float:
        v = values[key]
        return float(v["value"] if isinstance(v, dict) else v)

    cells = [f"{get('psnr_rgb_crop0_hole'):.2f}", f"{get('l1_rgb_crop0_hole'):.4f}"]
    cells += [f"{get(f'hole_psnr_{b}'):.2f}" for b in BUCKETS]
    cells += [f"{get('hole_psnr_mean'):.2f}", f"{get('hole_l1_mean'):.4f}"]
    return " | ".join(cells)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="Run directories with eval.json (or metrics.jsonl for --curve).")
    ap.add_argument("--curve", action="store_true", help="Every evaluation in each run's metrics.jsonl, by step.")
    args = ap.parse_args()
    print(HEADER.format(first="step (run)" if args.curve else "run"))
    for run in args.runs:
        if args.curve:
            for line in (run / "metrics.jsonl").read_text().splitlines():
                rec = json.loads(line)
                if rec.get("kind") == "eval":
                    print(f"| {rec['step']} ({run.name}) | {_cells(rec)} |")
        else:
            print(f"| {run.name} | {_cells(json.loads((run / 'eval.json').read_text())['metrics'])} |")


if __name__ == "__main__":
    main()
