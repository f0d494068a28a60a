"""Units of the core: sampler, checkpoints, EMA, runtime, YAML line map."""

from __future__ import annotations

import errno
import itertools
import os
from pathlib import Path

import pytest
import torch
from torch import nn

from ganzoo.checkpoint import CheckpointError, atomic_save, list_checkpoints, load_checkpoint, load_latest, save_checkpoint
from ganzoo.data import EmptyDatasetError, ResumableSampler, TensorImageDataset
from ganzoo.engine.ema import EMA
from ganzoo.engine.device import PrecisionError, check_precision, rng_state, select_device, set_rng_state


def test_sampler_seek_matches_uninterrupted():
    full = list(itertools.islice(iter(ResumableSampler(7, seed=3)), 30))
    s = ResumableSampler(7, seed=3)
    s.seek(11)
    assert list(itertools.islice(iter(s), 19)) == full[11:]
    assert sorted(full[:7]) == list(range(7)) and full[:7] != full[7:14]  # a fresh permutation per epoch


def test_sampler_shards_cover_the_epoch():
    shards = [list(itertools.islice(iter(ResumableSampler(10, seed=1, rank=r, world_size=3)), 4)) for r in range(3)]
    assert set(sum(shards, [])) == set(range(10))  # padded to 12, every index seen


def test_empty_inputs_fail_clearly():
    with pytest.raises(EmptyDatasetError):
        ResumableSampler(0)
    with pytest.raises(EmptyDatasetError):
        TensorImageDataset(torch.zeros(0, 1, 8, 8))


def test_atomic_save_and_prune(tmp_path):
    for step in (1, 2, 3, 4):
        save_checkpoint({"step": step}, tmp_path, step, keep=2)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [3, 4]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_corrupt_latest_falls_back(tmp_path, capsys):
    save_checkpoint({"step": 1, "w": torch.ones(3)}, tmp_path, 1, keep=5)
    p2 = save_checkpoint({"step": 2, "w": torch.ones(3)}, tmp_path, 2, keep=5)
    p2.write_bytes(p2.read_bytes()[:40])  # truncated
    path, state = load_latest(tmp_path)
    assert state["step"] == 1 and path.name == "step_00000001.pt"
    err = capsys.readouterr().err  # one user-facing line, no Python warning with a source line
    assert err.startswith("note: ") and "step_00000002" in err and err.count("\n") == 1 and "Warning" not in err


def test_malicious_pickle_never_runs(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "step_00000001.pt"
    torch.save({"step": 1, "x": Payload()}, evil)
    with pytest.raises(CheckpointError, match="cannot load checkpoint"):
        load_checkpoint(evil)
    assert not marker.exists()


def test_disk_full_keeps_previous(tmp_path, monkeypatch):
    save_checkpoint({"step": 1}, tmp_path, 1, keep=5)

    def full(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(CheckpointError, match="disk is full"):
        save_checkpoint({"step": 2}, tmp_path, 2, keep=5)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [1]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_not_a_checkpoint(tmp_path):
    atomic_save({"weights": torch.ones(1)}, tmp_path / "x.pt")
    with pytest.raises(CheckpointError, match="not a ganzoo checkpoint"):
        load_checkpoint(tmp_path / "x.pt")


def test_ema_arithmetic_and_warmup():
    net = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(net.weight)
    ema = EMA(net, decay=0.9)
    with torch.no_grad():
        net.weight.fill_(1.0)
    ema.update(net)
    assert ema.shadow.weight.item() == pytest.approx(0.1)
    ema.update(net)
    assert ema.shadow.weight.item() == pytest.approx(0.1 * 0.9 + 0.1)
    warm = EMA(net, decay=0.9, warmup=10)
    assert warm.current_decay() == 0.0
    warm.update(net)
    assert warm.shadow.weight.item() == pytest.approx(1.0) and warm.current_decay() == pytest.approx(0.09)


def test_rng_state_roundtrip():
    import random

    import numpy as np

    state = rng_state()
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    set_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a


def test_device_and_precision_checks():
    assert select_device("cpu").type == "cpu"
    assert select_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(PrecisionError, match="bf16"):
        check_precision("fp16", torch.device("cpu"))
    check_precision("bf16", torch.device("cpu"))
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            select_device("cuda")


def test_bf16_training_on_cpu(registries, tiny_spec, tmp_path):
    from ganzoo.spec.model import validate_spec
    from ganzoo.engine.run import Run

    tiny_spec["train"].update(steps=2, precision="bf16", sample_every=0, checkpoint_every=0)
    run = Run(validate_spec(tiny_spec, registries), registries, tmp_path)
    run.fit()
    assert run.step == 2 and run.nonfinite_skipped == 0


def test_unwritable_out_dir(tmp_path):
    from ganzoo.rundir import RunDirError, new_run_dir

    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(RunDirError, match="cannot write"):
        new_run_dir(blocker / "run", "x")


def test_line_map():
    from ganzoo.spec.yamlio import line_map

    lines = line_map("a:\n  b: 1\n  c:\n    - x: 2\n")
    assert lines[("a", "b")] == 2 and lines[("a", "c", 0, "x")] == 4


def test_paths_helper(tmp_path: Path):
    assert list_checkpoints(tmp_path / "missing") == []


def test_compile_path_trains(registries, tiny_spec, tmp_path):
    from ganzoo.spec.model import validate_spec
    from ganzoo.engine.run import Run

    tiny_spec["train"].update(steps=2, compile=True, channels_last=True, sample_every=0, checkpoint_every=0)
    run = Run(validate_spec(tiny_spec, registries), registries, tmp_path)
    assert hasattr(run.nets["generator"], "_orig_mod")  # compiled
    run.fit()
    assert run.step == 2 and (tmp_path / "generator.safetensors").is_file()
