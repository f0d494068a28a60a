"""Does a conditional run generate the class it is asked for? Checked by a classifier, not by eye.

    python benchmarks/check_conditional.py RUN [--n 200]

Samples ``--n`` images of every class with ``ganzoo.load_generator(RUN).sample(labels=k)``
(the same path as ``ganzoo sample RUN --class k``) and classifies them with the
domain classifier that ``fd-domain`` trains on the run's dataset (cached). Prints
the per-class accuracy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def class_accuracy(run: Path, n: int) -> dict[int, float]:
    """Fraction of samples of each class that the classifier assigns to that class."""
    from ganzoo.api import load_generator
    from ganzoo.evaluation import cache_dir, data_key
    from ganzoo.plugin.registry import load_registries
    from ganzoo_metrics.domain import get_classifier

    reg = load_registries()
    gen = load_generator(run, registries=reg)
    dataset = reg.build("dataset", gen.spec.data.type, gen.spec.data.params)  # type: ignore[attr-defined]
    clf = get_classifier(dataset, data_key(gen.spec.data), cache_dir("classifiers")).net  # type: ignore[attr-defined]
    out = {}
    with torch.no_grad():
        for k in range(gen.info.num_classes):
            images = gen.sample(n, seed=k, labels=k)  # (n, C, H, W) in [-1, 1]
            out[k] = float((clf(images).argmax(1) == k).float().mean())
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path)
    p.add_argument("--n", type=int, default=200)
    args = p.parse_args()
    acc = class_accuracy(args.run, args.n)
    print("| class | " + " | ".join(str(k) for k in acc) + " | mean |")
    print("| --- " * (len(acc) + 2) + "|")
    print("| accuracy | " + " | ".join(f"{v:.2f}" for v in acc.values()) + f" | {sum(acc.values()) / len(acc):.2f} |")


if __name__ == "__main__":
    main()
