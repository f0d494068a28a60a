"""Run logging: ``log.txt``, ``metrics.jsonl``, TensorBoard and a progress bar.

Only rank 0 writes; other ranks get a logger whose methods do nothing.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from ganzoo.errors import RunDirError
from ganzoo.rundir import RunDir

__all__ = ["RunLogger", "format_duration", "step_summary"]


def _fmt(v: float) -> str:
    return f"{v:.4g}" if math.isfinite(v) else str(v)



@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    """A failed write of a log line (a full disk, a file-size limit) becomes one message naming the file.

    The checkpoints already written are untouched; resuming continues from the newest.
    """
    try:
        yield
    except OSError as exc:
        hint = {errno.ENOSPC: " (the disk is full)", errno.EFBIG: " (the file would exceed the file-size limit)"}.get(exc.errno or 0, "")
        raise RunDirError(f"could not write {path}{hint}: {exc.strerror or exc}; the checkpoints written so far are intact") from exc

class RunLogger:
    """Writes the human log, the JSON-lines metrics and TensorBoard events of one run.

    Args:
        run_dir: The run directory.
        enabled: False on non-zero DDP ranks.
        tensorboard: Also write TensorBoard events under ``run_dir/tb``.
        progress: Show a tqdm bar (only when stderr is a terminal).
    """

    def __init__(self, run_dir: Path, *, enabled: bool = True, tensorboard: bool = True, progress: bool = True) -> None:
        self.dir = run_dir
        self.paths = RunDir(run_dir)
        self.enabled = enabled
        self._tb: Any = None
        self._bar: Any = None
        self._want_bar = progress and enabled and sys.stderr.isatty()
        if not enabled:
            return
        self._log = open(self.paths.log, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - open for the run, closed by close()
        self._jsonl = open(self.paths.metrics, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - as above
        if tensorboard:  # an I/O failure (a full disk) turns TensorBoard off with one line, never stops the run
            from ganzoo.engine.tbwriter import SafeTensorBoard

            self._tb = SafeTensorBoard.open(self.paths.tensorboard, self.info)

    def truncate_after(self, step: int) -> None:
        """Drop ``metrics.jsonl`` records past ``step`` (written after the checkpoint a run resumes from).

        A killed run logged steps it will now redo; keeping them would show each
        twice. ``step`` 0 drops every step record. Lines that are not JSON objects
        (cut short by a kill, or damaged) are dropped too. The file is rewritten
        atomically, so a failure here leaves it as it was.
        """
        if not self.enabled:
            return
        from ganzoo.fileio import atomic_write_text

        path = self.paths.metrics
        self._jsonl.close()
        try:
            text = path.read_bytes().decode("utf-8", errors="replace") if path.is_file() else ""
            kept = []
            for line in text.splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line cut short by the kill
                if isinstance(record, dict) and isinstance(record.get("step", 0), (int, float)) and record.get("step", 0) <= step:
                    kept.append(line)
            atomic_write_text(path, "".join(f"{line}\n" for line in kept))
        finally:
            self._jsonl = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - reopened for the rest of the run

    def info(self, message: str) -> None:
        """A line for ``log.txt`` and the terminal."""
        if not self.enabled:
            return
        line = f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] {message}"
        with _writing(self.paths.log):
            self._log.write(line + "\n")
        if self._bar is not None:
            self._bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)  # noqa: T201 - the run's log line on the terminal

    def scalars(self, step: int, values: dict[str, float], *, kind: str = "train") -> None:
        """One JSON line plus TensorBoard scalars."""
        if not self.enabled:
            return
        record = {"kind": kind, "step": step, "time": round(time.time(), 3), **{k: float(v) for k, v in values.items()}}
        with _writing(self.paths.metrics):
            self._jsonl.write(json.dumps(record, allow_nan=True) + "\n")
        if self._tb is not None:
            for k, v in values.items():
                self._tb.add_scalar(f"{kind}/{k}", float(v), step)

    def image(self, step: int, tag: str, grid_uint8: torch.Tensor) -> None:
        """A (C, H, W) uint8 grid into TensorBoard."""
        if self.enabled and self._tb is not None:
            self._tb.add_image(tag, grid_uint8, step)

    @property
    def shows_bar(self) -> bool:
        """Whether a progress bar is drawn (``train.progress`` and a terminal on stderr)."""
        return self._want_bar

    def start_progress(self, start: int, total: int) -> None:
        if not self._want_bar:
            return
        from tqdm import tqdm

        self._bar = tqdm(total=total, initial=start, unit="step", dynamic_ncols=True, file=sys.stderr)

    def progress(self, step: int, logs: dict[str, float]) -> None:
        if self._bar is None:
            return
        self._bar.update(step - self._bar.n)
        shown = {k: _fmt(v) for k, v in list(logs.items())[:4]}
        self._bar.set_postfix(shown, refresh=False)

    def close(self) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._tb is not None:
            self._tb.close()
        self._log.close()
        self._jsonl.close()


def format_duration(seconds: float) -> str:
    """``HH:MM:SS``, with the whole days in front past 24 h (``1d 03:04:05``); ``?`` when unknown.

    ``time.strftime`` of a ``gmtime`` wrapped every 24 h and overflowed on huge values.
    """
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    clock = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{days}d {clock}" if days else clock


def step_summary(step: int, total: int, logs: dict[str, float]) -> str:
    """One human line: progress, rate, ETA and the phase losses."""
    rate = logs.get("steps_per_s", 0.0)
    eta = (total - step) / rate if rate > 0 else float("inf")
    terms = "  ".join(f"{k}={v:.4g}" for k, v in logs.items() if "/" in k)
    eta_s = format_duration(eta)
    return f"step {step}/{total}  {rate:.2f} steps/s  ETA {eta_s}  {terms}"
