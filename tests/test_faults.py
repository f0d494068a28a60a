"""Faults during training: non-finite losses, Ctrl-C, bad data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

from ganzoo import LossEntry, hookimpl
from ganzoo.checkpoint import list_checkpoints, load_checkpoint
from ganzoo.plugin.manager import get_plugin_manager
from ganzoo.plugin.registry import collect
from ganzoo.spec.model import validate_spec
from ganzoo.engine.run import NonFiniteError, Run


class NaNAfter:
    """Non-saturating until update ``start``, NaN from then on (a test plugin)."""

    def __init__(self, start: int) -> None:
        self.calls, self.start = 0, start

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        loss = torch.nn.functional.softplus(-real_logits).mean() + torch.nn.functional.softplus(fake_logits).mean()
        return loss * float("nan") if self.calls > self.start else loss

    def g_loss(self, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None) -> torch.Tensor:
        return torch.nn.functional.softplus(-fake_logits).mean()


class NaNPlugin:
    @hookimpl
    def ganzoo_losses(self):  # type: ignore[no-untyped-def]
        return [LossEntry(name="nan-after-2", loss_kind="adversarial", build=lambda p: NaNAfter(2), description="test")]


def test_nonfinite_updates_are_skipped_then_stop(tiny_spec, tmp_path):
    reg = collect(get_plugin_manager(extra=[("nan", NaNPlugin())]))
    tiny_spec["losses"]["adversarial"] = {"type": "nan-after-2"}
    tiny_spec["train"].update(steps=10, max_nonfinite=3, checkpoint_every=1, sample_every=0)
    run = Run(validate_spec(tiny_spec, reg), reg, tmp_path)
    with pytest.raises(NonFiniteError) as ei:
        run.fit()
    msg = str(ei.value)
    assert "3 consecutive non-finite" in msg and "phase D" in msg and "step 5" in msg
    assert run.nonfinite_skipped == 3 and run.d_updates == 2
    last = load_checkpoint(list_checkpoints(tmp_path / "checkpoints")[-1][1])
    assert all(torch.isfinite(v).all() for v in last["nets"]["discriminator"].values() if v.is_floating_point())
    assert "non-finite" in (tmp_path / "log.txt").read_text()


def test_sigint_saves_checkpoint_and_exits_130(tiny_spec, tmp_path):
    tiny_spec["data"]["params"]["size"] = 32
    tiny_spec["train"].update(steps=100_000, log_every=1, checkpoint_every=0, sample_every=0, tensorboard=False)
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(tiny_spec))
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ganzoo", "train", str(spec), "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    deadline = time.time() + 120
    while time.time() < deadline and not ((out / "metrics.jsonl").exists() and (out / "metrics.jsonl").read_text().count("\n") >= 3):
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "checkpoint was saved" in err
    step, path = list_checkpoints(out / "checkpoints")[-1]
    assert step >= 3 and load_checkpoint(path)["step"] == step


def _launch(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GANZOO_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "ganzoo", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _lines(path) -> int:  # type: ignore[no-untyped-def]
    return path.read_text().count("\n") if path.exists() else 0


def test_sigkill_at_five_points_then_resume_is_bit_identical(tiny_spec, tmp_path):
    """SIGKILL at five points of one run (mid-step, mid-checkpoint alike); the resumed run ends identical."""
    tiny_spec["data"]["params"]["limit"] = 40
    tiny_spec["train"].update(steps=36, ema=0.9, log_every=1, checkpoint_every=2, sample_every=0, tensorboard=False, keep_checkpoints=2)
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(tiny_spec))

    ref = _launch(["train", str(spec), "--out", str(tmp_path / "ref")])
    assert ref.wait(timeout=300) == 0, ref.stderr.read() if ref.stderr else ""

    out = tmp_path / "killed"
    args = ["train", str(spec), "--out", str(out)]
    kills = 0
    for target in (3, 9, 15, 22, 29):
        proc = _launch(args)
        deadline = time.time() + 120
        while time.time() < deadline and _lines(out / "metrics.jsonl") < target and proc.poll() is None:
            time.sleep(0.005)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=60)
        args = ["train", "--resume", str(out)]
    final = _launch(args)
    assert final.wait(timeout=300) == 0, final.stderr.read() if final.stderr else ""
    assert kills >= 5

    a = load_checkpoint(list_checkpoints(tmp_path / "ref" / "checkpoints")[-1][1])
    b = load_checkpoint(list_checkpoints(out / "checkpoints")[-1][1])
    assert a["step"] == b["step"] == 36 and a["d_updates"] == b["d_updates"]
    for part in ("generator", "discriminator"):
        for k, v in a["nets"][part].items():
            assert torch.equal(v, b["nets"][part][k]), f"{part}.{k}"
    for k, v in a["ema"]["shadow"].items():
        assert torch.equal(v, b["ema"]["shadow"][k]), f"ema.{k}"
    steps = [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 37))  # redone steps are not logged twice
    assert not list((out / "checkpoints").glob(".*.tmp"))


def _start_endless(tiny_spec: dict, tmp_path, after_lines: int, **train: object) -> tuple[subprocess.Popen, object]:  # type: ignore[type-arg]
    """Start an endless CLI training run and return once it has logged ``after_lines`` steps."""
    tiny_spec["train"].update(steps=100_000, log_every=1, sample_every=0, tensorboard=False, **train)
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(tiny_spec))
    out = tmp_path / "run"
    proc = _launch(["train", str(spec), "--out", str(out)])
    deadline = time.time() + 120
    while time.time() < deadline and _lines(out / "metrics.jsonl") < after_lines:
        time.sleep(0.02)
    return proc, out


def test_sigterm_exits_143(tiny_spec, tmp_path):
    proc, out = _start_endless(tiny_spec, tmp_path, 2, checkpoint_every=0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert list_checkpoints(out / "checkpoints")


def test_second_ctrl_c_exits_at_once_without_corruption(tiny_spec, tmp_path):
    tiny_spec["data"]["params"]["size"] = 32
    proc, out = _start_endless(tiny_spec, tmp_path, 3, checkpoint_every=1)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    for _, path in list_checkpoints(out / "checkpoints"):
        assert load_checkpoint(path)["step"] >= 1  # every complete-named checkpoint loads
