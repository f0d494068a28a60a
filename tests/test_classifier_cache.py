"""The domain classifier cache is safe to share between processes and installs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from ganzoo import TensorImageDataset
from ganzoo_metrics.domain import classifier_key, get_classifier

SCRIPT = textwrap.dedent(
    """
    import json, sys, time, torch
    from pathlib import Path
    from ganzoo import TensorImageDataset
    from ganzoo_metrics.domain import get_classifier

    torch.set_num_threads(int(sys.argv[2]))
    g = torch.Generator().manual_seed(0)
    images = torch.rand(240, 1, 8, 8, generator=g) * 2 - 1
    labels = torch.arange(240) % 3
    data = TensorImageDataset(images, labels, num_classes=3)
    Path(sys.argv[3]).touch()  # ready
    while not Path(sys.argv[4]).exists():  # start together
        time.sleep(0.01)
    clf = get_classifier(data, "fake-data", Path(sys.argv[1]), epochs=3, seed=0)
    print(json.dumps({"sha256": clf.sha256, "weights": float(sum(p.double().sum() for p in clf.net.parameters()))}))
    """
)


def _data() -> TensorImageDataset:
    g = torch.Generator().manual_seed(0)
    images = torch.rand(240, 1, 8, 8, generator=g) * 2 - 1
    return TensorImageDataset(images, torch.arange(240) % 3, num_classes=3)


def test_two_processes_with_different_thread_counts_score_with_one_classifier(tmp_path: Path) -> None:
    cache, go = tmp_path / "cache", tmp_path / "go"
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    procs = [
        subprocess.Popen([sys.executable, "-c", SCRIPT, str(cache), str(threads), str(tmp_path / f"ready{threads}"), str(go)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for threads in (1, 2)
    ]
    for threads in (1, 2):
        for _ in range(3000):
            if (tmp_path / f"ready{threads}").exists() or any(p.poll() is not None for p in procs):
                break
            import time

            time.sleep(0.01)
    go.touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert results[0] == results[1]  # the same file: same hash, same weights
    assert len(list(cache.glob("*.safetensors"))) == 1


def test_a_cached_classifier_is_never_replaced(tmp_path: Path) -> None:
    first = get_classifier(_data(), "fake-data", tmp_path, epochs=1)
    before = first.path.read_bytes()
    torch.set_num_threads(2)  # another thread count trains a (slightly) different net: the cached one must win
    try:
        again = get_classifier(_data(), "fake-data", tmp_path, epochs=1)
    finally:
        torch.set_num_threads(1)
    assert again.sha256 == first.sha256 and first.path.read_bytes() == before


def test_a_damaged_entry_is_moved_aside_not_trusted(tmp_path: Path) -> None:
    first = get_classifier(_data(), "fake-data", tmp_path, epochs=1)
    blob = bytearray(first.path.read_bytes())
    blob[-8:] = b"\x00" * 8  # flip the last weights: the recorded hash no longer matches
    first.path.write_bytes(bytes(blob))
    with pytest.warns(UserWarning, match="unreadable.*moved to"):
        again = get_classifier(_data(), "fake-data", tmp_path, epochs=1)
    assert again.path == first.path and again.sha256 == first.sha256  # retrained deterministically, same thread count
    assert list(tmp_path.glob("*.damaged-*"))


def test_the_key_covers_the_code_version() -> None:
    import ganzoo

    base = classifier_key("d", 1, 8, 3, 1, 0)
    real = ganzoo.__version__
    try:
        ganzoo.__version__ = "999.0"
        assert classifier_key("d", 1, 8, 3, 1, 0) != base
    finally:
        ganzoo.__version__ = real
