"""Train what a sweep is missing: plan each run, set unusable ones aside, launch, forward signals.

Runs go to ``OUT/runs/VARIANT-sSEED``, one ``ganzoo train`` process each (up to
``jobs`` at once), with their resolved spec in ``OUT/specs`` and their console
output in ``OUT/logs``. A finished run with the same spec is reused, an
unfinished one with a checkpoint is resumed, and one made from a different
spec is never overwritten (:class:`~ganzoo.compare.gather.CompareError`).

Nothing here deletes a directory: a run directory compare cannot use (no or
an unreadable ``spec.yaml``, a corrupt ``run.json``, no checkpoint to resume
from) is moved to ``OUT/set-aside/`` with its user files, and its (variant,
seed) trains afresh. A run another process holds the lock of
(:mod:`ganzoo.runlock`) is reported as running, with its holder, and skipped,
so a second compare never trains a live run twice.

SIGINT and SIGTERM are forwarded to the training processes (each saves a
checkpoint and exits); nothing new starts, and :func:`run_sweep` returns once
they have all exited, with the signal in :attr:`SweepOutcome.signal`.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganzoo.compare.gather import CompareError, gather_run
from ganzoo.compare.sweep import SweepRun
from ganzoo.errors import RunDirError
from ganzoo.fileio import atomic_write_text
from ganzoo.rundir import RunDir, SweepDir
from ganzoo.runlock import RunLock, lock_holder
from ganzoo.runstate import failed_start
from ganzoo.spec.model import spec_hash, spec_to_data
from ganzoo.spec.yamlio import dump_yaml

__all__ = ["Planned", "SweepOutcome", "plan", "plan_runs", "set_aside", "run_sweep"]

_HASH_LINE = re.compile(r"^# sha256: ([0-9a-f]{64})$")
_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Planned:
    """What one run needs.

    Attributes:
        action: ``done`` (reuse), ``resume``, ``train`` (nothing there yet),
            ``redo`` (set the directory aside, then train) or ``running``
            (another process holds it: skip).
        reason: Why ``redo``; who holds it for ``running``.
    """

    action: str
    reason: str = ""


@dataclass
class SweepOutcome:
    """What :func:`run_sweep` did.

    Attributes:
        codes: Exit status of each training process launched, by run key
            (128 + N for a process a signal N ended).
        skipped: Runs another process was training, with their holder.
        moved: Run directories set aside, by run key, to their new place.
        signal: The SIGINT or SIGTERM that stopped the sweep, if one did.
    """

    codes: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    moved: dict[str, Path] = field(default_factory=dict)
    signal: int | None = None


def _spec_problem(paths: RunDir, r: SweepRun) -> str:
    """Why ``paths``' spec.yaml makes the run unusable ('' when it is this run's).

    Raises:
        CompareError: It holds a different spec: a finished run of another
            variant definition, which is never moved or overwritten.
    """
    try:
        text = paths.spec.read_text(encoding="utf-8")
    except FileNotFoundError:
        return f"it has no {paths.spec.name}"
    except (OSError, UnicodeDecodeError) as exc:
        return f"its {paths.spec.name} cannot be read ({getattr(exc, 'strerror', None) or exc})"
    header = text.splitlines()[1:2]
    m = _HASH_LINE.match(header[0]) if header else None
    if m is None:
        return f"its {paths.spec.name} has no sha256 header (damaged)"
    if m.group(1) != spec_hash(r.spec):
        raise CompareError(
            f"{paths.root} was trained from a different spec than variant {r.variant!r} seed {r.seed} now gives; "
            "delete that directory, or give the changed variant a new name, so that no finished run is overwritten"
        )
    return ""


def plan_runs(runs: list[SweepRun], out: Path) -> dict[str, Planned]:
    """What each run of the sweep in ``out`` needs (see :class:`Planned`).

    Args:
        runs: The expanded sweep.
        out: The sweep's output directory.

    Raises:
        CompareError: A run directory exists but was made from a different spec.
    """
    actions: dict[str, Planned] = {}
    for r in runs:
        paths = SweepDir(out).run(r.variant, r.seed)
        holder = lock_holder(paths.root)
        if holder is not None:
            actions[r.key] = Planned("running", holder.describe())
            continue
        if not paths.root.exists() or failed_start(paths.root):  # nothing to keep: `train --out` starts afresh in it
            actions[r.key] = Planned("train")
            continue
        problem = _spec_problem(paths, r)
        if problem:
            actions[r.key] = Planned("redo", problem)
            continue
        rec = gather_run(paths.root)
        if rec.status == "unreadable":
            actions[r.key] = Planned("redo", rec.error.partition(";")[0])
        elif rec.status == "completed":
            actions[r.key] = Planned("done")
        elif paths.list_checkpoints():
            actions[r.key] = Planned("resume")
        else:
            actions[r.key] = Planned("redo", "it has no checkpoint to resume from")
    return actions


def plan(runs: list[SweepRun], out: Path) -> dict[str, str]:
    """:func:`plan_runs`, the action only: ``done``, ``resume``, ``train``, ``redo`` or ``running``."""
    return {k: p.action for k, p in plan_runs(runs, out).items()}


def set_aside(out: Path, r: SweepRun) -> Path:
    """Move the run directory of ``r`` to ``OUT/set-aside/VARIANT-sSEED.STAMP``, under its lock.

    Args:
        out: The sweep's output directory.
        r: The run.

    Returns:
        Where it went.

    Raises:
        RunDirError: Another process took its lock meanwhile (the message names it).
        CompareError: It cannot be moved.
    """
    sweep = SweepDir(out)
    src = sweep.run(r.variant, r.seed).root
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dst, i = sweep.set_aside_run(r.variant, r.seed, stamp), 1
    while dst.exists():
        i += 1
        dst = sweep.set_aside_run(r.variant, r.seed, f"{stamp}-{i}")
    with RunLock(src):  # no trainer can start in it while it moves; the lock moves with it
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.rename(src, dst)
        except OSError as exc:
            raise CompareError(f"cannot move {src} aside to {dst}: {exc.strerror or exc}; move or delete it yourself") from None
    return dst


def _start(r: SweepRun, action: str, out: Path, threads: int, extra_env: dict[str, str]) -> subprocess.Popen[bytes]:
    sweep_dir = SweepDir(out)
    run_dir = sweep_dir.run(r.variant, r.seed).root
    spec_file = sweep_dir.spec_file(r.variant, r.seed)
    spec_file.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(spec_file, dump_yaml(spec_to_data(r.spec), header=f"# ganzoo compare: variant {r.variant}, seed {r.seed}\n"))
    # ``train --out`` accepts only an absent or empty directory, or a failed start's leftovers: it never overwrites a run
    args = ["train", "--resume", str(run_dir)] if action == "resume" else ["train", str(spec_file), "--out", str(run_dir)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), **extra_env}
    log = sweep_dir.log_file(r.variant, r.seed)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as fh:
        fh.write(f"$ ganzoo {' '.join(args)}\n")
        fh.flush()
        # Its own session: a terminal's Ctrl-C reaches compare only, which forwards it once;
        # two SIGINTs would make the trainer stop without saving its checkpoint.
        cmd = [sys.executable, "-m", "ganzoo", *args]
        return subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)


class _Children:
    """The live training processes, and the signal handler that forwards to them."""

    def __init__(self) -> None:
        self.live: dict[str, tuple[SweepRun, subprocess.Popen[bytes]]] = {}
        self.signal: int | None = None
        self._pending: list[int] = []

    def on_signal(self, signum: int, frame: Any) -> None:
        # Only noted here; :meth:`deliver` sends from the loop, so a process started
        # while the handler ran gets it exactly once (twice would skip its checkpoint).
        self.signal = self.signal or signum
        self._pending.append(signum)

    def deliver(self) -> None:
        """Send every signal noted since the last call to every live process."""
        while self._pending:
            signum = self._pending.pop(0)
            for _, proc in self.live.values():
                with contextlib.suppress(ProcessLookupError):  # it exited since the last poll
                    proc.send_signal(signum)  # a second signal makes the trainers stop at once, as in `ganzoo train`

    @contextlib.contextmanager
    def forwarding(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # only the main thread may set handlers; the caller's handling stays
            return
        previous = {s: signal.signal(s, self.on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, h in previous.items():
                signal.signal(s, h)


def _verdict(code: int, log: Path) -> str:
    if code == 0:
        return "done"
    if code > 128 and code - 128 in (signal.SIGINT, signal.SIGTERM):
        return f"stopped by {signal.Signals(code - 128).name}; it resumes from its checkpoint next time (see {log})"
    return f"exit {code} (see {log})"


def run_sweep(
    runs: list[SweepRun],
    out: Path,
    *,
    jobs: int = 1,
    threads: int | None = None,
    env: dict[str, str] | None = None,
    echo: Callable[[str], None] = print,
) -> SweepOutcome:
    """Train or resume every run that is not finished, ``jobs`` processes at once.

    Args:
        runs: The expanded sweep.
        out: The sweep's output directory.
        jobs: Processes at once.
        threads: Intra-op threads per process (default: CPU count // jobs, at least 1).
        env: Extra environment for the training processes.
        echo: Progress lines go here.

    Returns:
        What was launched, skipped and set aside, and the signal that stopped it, if any.

    Raises:
        CompareError: A run directory was made from a different spec, or cannot be set aside.
    """
    outcome = SweepOutcome()
    todo: list[tuple[SweepRun, str]] = []
    for r, step in zip(runs, plan_runs(runs, out).values(), strict=True):
        if step.action == "done":
            echo(f"{r.key}: finished earlier, reused")
        elif step.action == "running":
            outcome.skipped[r.key] = step.reason
        elif step.action == "redo":
            try:
                outcome.moved[r.key] = set_aside(out, r)
            except RunDirError:  # a trainer took it since the plan
                taker = lock_holder(SweepDir(out).run(r.variant, r.seed).root)
                outcome.skipped[r.key] = taker.describe() if taker is not None else "an unknown process"
                continue
            echo(f"{r.key}: {step.reason}; moved it aside to {outcome.moved[r.key]} and training it afresh")
            todo.append((r, "train"))
        else:
            todo.append((r, step.action))
    for key, holder in outcome.skipped.items():
        echo(f"{key}: being trained by another process, {holder}; skipped")
    if not todo:
        return outcome
    threads = threads or max(1, (os.cpu_count() or 1) // jobs)
    echo(f"{len(todo)} run(s) to train, {jobs} at a time, {threads} thread(s) each; logs in {SweepDir(out).logs}")
    children = _Children()
    with children.forwarding():
        while (todo and children.signal is None) or children.live:
            while todo and len(children.live) < jobs and children.signal is None:
                r, action = todo.pop(0)
                children.live[r.key] = (r, _start(r, action, out, threads, env or {}))
            time.sleep(_POLL_SECONDS)
            children.deliver()
            for key, (r, proc) in list(children.live.items()):
                code = proc.poll()
                if code is None:
                    continue
                del children.live[key]
                outcome.codes[key] = 128 - code if code < 0 else code  # killed by signal N: 128 + N, like a shell
                echo(f"{key}: {_verdict(outcome.codes[key], SweepDir(out).log_file(r.variant, r.seed).relative_to(out))}")
    outcome.signal = children.signal
    return outcome
