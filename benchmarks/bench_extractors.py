"""Feature-extraction throughput of the metric extractors (images per second).

    python benchmarks/bench_extractors.py [--batch 50] [--batches 4]

The Inception network is randomly initialised (identical architecture and cost
to the real weights, which cannot be downloaded here).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from bench_engine import machine  # noqa: E402

from ganzoo_metrics.domain import DomainClassifier  # noqa: E402
from ganzoo_metrics.extractors import InceptionFeatures  # noqa: E402


def rate(fn, images: torch.Tensor, batches: int) -> float:  # type: ignore[no-untyped-def]
    fn(images[:2])
    t0 = time.perf_counter()
    for _ in range(batches):
        fn(images)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return batches * len(images) / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--batches", type=int, default=4)
    args = p.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(machine())
    inc = InceptionFeatures(allow_random=True, device=device)
    small = torch.randint(0, 256, (args.batch, 3, 32, 32), dtype=torch.uint8)
    print(f"| FID Inception-v3 (32px input, TF1 resize to 299) | {rate(inc.features, small, args.batches):.1f} img/s |")
    clf = DomainClassifier(1, 10).eval().to(device)
    gray = torch.randint(0, 256, (args.batch * 8, 1, 32, 32), dtype=torch.uint8)

    def embed(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return clf.embed(x.to(device).float() / 127.5 - 1)

    print(f"| domain classifier (fd-domain, 32px) | {rate(embed, gray, args.batches):.0f} img/s |")


if __name__ == "__main__":
    main()
