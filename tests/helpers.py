"""Small helpers several test modules share: quiet runs, metrics records, exact-resume checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from ganzoo.api import resume_spec, train
from ganzoo.checkpoint import list_checkpoints, load_checkpoint
from ganzoo.engine.run import Run
from ganzoo.plugin.registry import Registries
from ganzoo.spec.model import validate_spec

# The smallest inpainting run the file-input tests train (1 step, 16 px faces, a 4-channel partial-conv U-Net).
TINY_INPAINT_SPEC: dict[str, Any] = {
    "name": "inp",
    "task": {"type": "inpainting", "params": {"mask": {"type": "free-form", "hole_range": [0.1, 0.4]}}},
    "seed": 0,
    "data": {"type": "faces", "params": {"size": 16, "hflip": False}},
    "generator": {"type": "partial-conv", "params": {"width": 4, "depth": 2}},
    "losses": {"reconstruction": [{"type": "l1"}]},
    "train": {"steps": 1, "batch_size": 4, "device": "cpu", "log_every": 1, "sample_every": 0, "checkpoint_every": 0,
              "sample_grid": 9, "tensorboard": False, "progress": False},
}


def train_dir(registries: Registries, data: dict[str, Any], out: Path) -> Path:
    """Validate ``data`` and train it into ``out`` through the public API; returns the run directory."""
    return train(validate_spec(data, registries), out, registries=registries)


def fit_quiet(spec: dict[str, Any], registries: Registries, out: Path) -> Run:
    """Train without samples, checkpoints or TensorBoard; returns the finished :class:`Run`."""
    spec["train"].update(sample_every=0, checkpoint_every=0, tensorboard=False)
    run = Run(validate_spec(spec, registries), registries, out)
    run.fit()
    return run


def train_records(run_dir: Path, kind: str | None = "train") -> list[dict[str, Any]]:
    """The lines of ``metrics.jsonl`` (of one ``kind``; every line for ``None``)."""
    records = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in records if kind is None or r.get("kind") == kind]


def last_checkpoint(run_dir: Path) -> dict[str, Any]:
    return load_checkpoint(list_checkpoints(run_dir / "checkpoints")[-1][1])


def assert_same_nets(a: Path, b: Path) -> None:
    """The last checkpoints of two runs hold bit-identical networks."""
    na, nb = last_checkpoint(a)["nets"], last_checkpoint(b)["nets"]
    assert na.keys() == nb.keys()
    for net in na:
        for k, v in na[net].items():
            assert torch.equal(v, nb[net][k]), (net, k)


def split_and_resume(registries: Registries, data: dict[str, Any], tmp_path: Path, *, steps: int = 4, split: int = 2) -> tuple[Path, Path]:
    """Train ``steps`` in one go, and ``split`` then resume to ``steps``; returns (full, resumed) run directories."""
    data["train"]["steps"] = steps
    full = train_dir(registries, data, tmp_path / "full")
    data["train"]["steps"] = split
    part = train_dir(registries, data, tmp_path / "part")
    run = Run(resume_spec(part, registries, [f"train.steps={steps}"]), registries, part, resuming=True)
    assert run.resume() and run.step == split
    run.fit()
    return full, part
