"""Compare registry variants under one fixed CPU-time budget on the digits dataset.

    python benchmarks/bench_variants.py --budget 900 --jobs 2 --out runs/variants

Each spec trains single-threaded until ``--budget`` seconds of its own CPU time
(``train.max_seconds`` with ``train.budget_clock: cpu``), then is evaluated with
the offline ``fd-domain`` metric (n = 2000). ``--jobs`` runs execute side by
side, one core each. Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEFAULT = ["dcgan-digits", "dcgan-hinge-sn", "wgan-gp", "lsgan", "dcgan-r1-ema", "cdcgan-digits"]


def run_one(name: str, out: Path, budget: float) -> dict[str, object]:
    run_dir = out / name
    args = ["train", str(REPO / "registry" / f"{name}.yaml"), "--set", "train.steps=1000000", "--set", f"train.max_seconds={budget}",
            "--set", "train.budget_clock=cpu", "--set", "train.sample_every=0", "--set", "train.checkpoint_every=0",
            "--set", "train.device=cpu", "--set", "eval.every=0"]
    args += ["--resume", str(run_dir)] if (run_dir / "checkpoints").is_dir() else ["--out", str(run_dir)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-m", "ganzoo", *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return {"name": name, "error": proc.stderr[-500:]}
    ev = json.loads((run_dir / "eval.json").read_text())["metrics"]["fd_domain_n2000"]
    from ganzoo.checkpoint import list_checkpoints, load_checkpoint

    state = load_checkpoint(list_checkpoints(run_dir / "checkpoints")[-1][1])
    return {"name": name, "fd": ev["value"], "step": state["step"], "d_updates": state["d_updates"], "wall_s": time.time() - t0,
            "classifier": ev["protocol"]["extractor_sha256"][:12]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget", type=float, default=900.0, help="CPU seconds per variant")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", type=Path, default=REPO / "runs" / "variants")
    p.add_argument("specs", nargs="*", default=DEFAULT)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda n: run_one(n, args.out, args.budget), args.specs))
    base = next((r["fd"] for r in results if r["name"] == "dcgan-digits" and "fd" in r), None)
    print(f"budget {args.budget:.0f} CPU-seconds per variant, {args.jobs} side by side, 1 thread each; fd-domain n=2000 (lower is better)\n")
    print("| variant | steps | D updates | fd_domain_n2000 | vs dcgan-digits | classifier |\n| --- | --- | --- | --- | --- | --- |")
    for r in sorted(results, key=lambda r: r.get("fd", float("inf"))):  # type: ignore[arg-type, return-value]
        if "error" in r:
            print(f"| {r['name']} | failed: {r['error']!r} | | | | |")
            continue
        ratio = f"{r['fd'] / base:.2f}x" if base else "?"
        print(f"| {r['name']} | {r['step']} | {r['d_updates']} | {r['fd']:.3f} | {ratio} | {r['classifier']} |")


if __name__ == "__main__":
    main()
