"""A TensorBoard writer that cannot write (a full disk, a path that cannot be created) never stops a run.

Without the guard, TensorBoard's writer thread prints a traceback and the next
``add_scalar`` re-raises the OSError inside the training loop.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import pytest

from ganzoo.engine.logging import RunLogger
from ganzoo.engine.run import Run
from ganzoo.plugin.registry import Registries
from ganzoo.spec.model import validate_spec

DISABLED = "TensorBoard disabled for this run"


def _disk_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every event record fails as on a full disk; the writes happen in TensorBoard's writer thread."""
    from tensorboard.summary.writer import record_writer  # type: ignore[import-untyped]

    def full(self: Any, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(record_writer.RecordWriter, "write", full)


def _quiet(err: str) -> None:
    assert "Traceback" not in err and "Exception in thread" not in err, err


def test_full_disk_at_start_disables_tensorboard_and_the_run_trains(registries: Registries, tiny_spec: dict[str, Any],
                                                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    capfd: pytest.CaptureFixture[str]) -> None:
    _disk_full(monkeypatch)
    tiny_spec["train"].update(tensorboard=True, sample_every=2, checkpoint_every=0)
    run = Run(validate_spec(tiny_spec, registries), registries, tmp_path / "run")
    run.fit()
    assert run.step == tiny_spec["train"]["steps"] and (tmp_path / "run" / "generator.safetensors").is_file()
    log = (tmp_path / "run" / "log.txt").read_text()
    assert log.count(DISABLED) == 1 and "No space left on device" in log
    _quiet(capfd.readouterr().err)


def test_failure_later_is_one_line_and_no_more_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capfd: pytest.CaptureFixture[str]) -> None:
    import torch

    logger = RunLogger(tmp_path, tensorboard=True, progress=False)
    logger.scalars(1, {"loss": 1.0})
    assert logger._tb is not None and logger._tb.active
    _disk_full(monkeypatch)
    for step in range(2, 40):  # the thread fails on its own; the loop sees it on a later call
        logger.scalars(step, {"loss": 1.0})
        logger.image(step, "grid", torch.zeros(3, 4, 4, dtype=torch.uint8))
    logger.close()
    assert not logger._tb.active
    assert (tmp_path / "log.txt").read_text().count(DISABLED) == 1
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 39  # the run's own records are unaffected
    _quiet(capfd.readouterr().err)


def test_a_tensorboard_path_that_cannot_be_created(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "tb").write_text("a file where the event directory should go")
    logger = RunLogger(tmp_path, tensorboard=True, progress=False)
    assert logger._tb is None
    logger.scalars(1, {"loss": 1.0})
    logger.close()
    log = (tmp_path / "log.txt").read_text()
    assert log.count(DISABLED) == 1 and str(tmp_path / "tb") in log
    _quiet(capfd.readouterr().err)
