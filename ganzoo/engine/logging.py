"""Run logging: ``log.txt``, ``metrics.jsonl``, TensorBoard and a progress bar.

Only rank 0 writes; other ranks get a logger whose methods do nothing.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch

from ganzoo.rundir import RunDir

__all__ = ["RunLogger", "step_summary"]


def _fmt(v: float) -> str:
    return f"{v:.4g}" if math.isfinite(v) else str(v)


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
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(log_dir=str(self.paths.tensorboard))
            except ImportError:
                self.info("tensorboard is not installed; skipping TensorBoard events (pip install tensorboard)")

    def truncate_after(self, step: int) -> None:
        """Drop ``metrics.jsonl`` records past ``step`` (written after the checkpoint a run resumes from).

        A killed run logged steps it will now redo; keeping them would show each twice.
        """
        if not self.enabled:
            return
        path = self.paths.metrics
        self._jsonl.close()
        kept = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                if json.loads(line).get("step", 0) <= step:
                    kept.append(line)
            except json.JSONDecodeError:
                continue  # a line cut short by the kill
        from ganzoo.checkpoint import atomic_write

        blob = ("\n".join(kept) + ("\n" if kept else "")).encode()
        atomic_write(path, lambda fh: fh.write(blob))
        self._jsonl = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - reopened for the rest of the run

    def info(self, message: str) -> None:
        """A line for ``log.txt`` and the terminal."""
        if not self.enabled:
            return
        line = f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] {message}"
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
        self._jsonl.write(json.dumps(record, allow_nan=True) + "\n")
        if self._tb is not None:
            for k, v in values.items():
                self._tb.add_scalar(f"{kind}/{k}", float(v), step)

    def image(self, step: int, tag: str, grid_uint8: torch.Tensor) -> None:
        """A (C, H, W) uint8 grid into TensorBoard."""
        if self.enabled and self._tb is not None:
            self._tb.add_image(tag, grid_uint8, step)

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


def step_summary(step: int, total: int, logs: dict[str, float]) -> str:
    """One human line: progress, rate, ETA and the phase losses."""
    rate = logs.get("steps_per_s", 0.0)
    eta = (total - step) / rate if rate > 0 else float("inf")
    terms = "  ".join(f"{k}={v:.4g}" for k, v in logs.items() if "/" in k)
    eta_s = time.strftime("%H:%M:%S", time.gmtime(eta)) if eta != float("inf") else "?"
    return f"step {step}/{total}  {rate:.2f} steps/s  ETA {eta_s}  {terms}"
