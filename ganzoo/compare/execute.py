"""Train what a sweep is missing: plan each run, set unusable ones aside, launch.

Runs go to ``OUT/runs/VARIANT-sSEED``, one ``ganzoo train`` process each (up to
``jobs`` at once in the local pool, :mod:`ganzoo.compare.pool`, or as a
launcher's jobs, :mod:`ganzoo.compare.launcher`), with their resolved spec in
``OUT/specs`` and their console output in ``OUT/logs``. A finished run with the same spec is reused, an
unfinished one with a checkpoint is resumed, and one made from a different
spec is never overwritten (:class:`~ganzoo.compare.gather.CompareError`).

Nothing here deletes a directory: a run directory compare cannot use (no or
an unreadable ``spec.yaml``, a corrupt ``run.json``, no checkpoint to resume
from) is moved to ``OUT/set-aside/`` with its user files, and its (variant,
seed) trains afresh. A run another process holds the lock of
(:mod:`ganzoo.runlock`) is reported as running, with its holder, and skipped,
so a second compare never trains a live run twice.

In the local pool SIGINT and SIGTERM are forwarded to the training processes
(each saves a checkpoint and exits); nothing new starts, and :func:`run_sweep`
returns once they have all exited, with the signal in :attr:`SweepOutcome.signal`.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ganzoo.compare.gather import CompareError, gather_run
from ganzoo.compare.launcher import LIVE_STATES, JobRecord, Launcher, LaunchRun, read_jobs, write_jobs
from ganzoo.compare.pool import run_pool, start_process
from ganzoo.compare.sweep import SweepRun
from ganzoo.errors import RunDirError
from ganzoo.fileio import atomic_write_text
from ganzoo.rundir import RunDir, SweepDir
from ganzoo.runlock import RunLock, lock_holder
from ganzoo.runstate import failed_start
from ganzoo.spec.model import RunSpecBase, flatten, spec_hash, spec_to_data
from ganzoo.spec.yamlio import dump_yaml, load_yaml

__all__ = ["Planned", "SweepOutcome", "plan", "plan_runs", "plan_launch", "set_aside", "run_sweep"]

_HASH_LINE = re.compile(r"^# sha256: ([0-9a-f]{64})$")


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
        skipped: Runs another process was training (or whose job is queued or
            running), with their holder.
        moved: Run directories set aside, by run key, to their new place.
        jobs: Jobs a launcher submitted, by run key (they run on after :func:`run_sweep` returns).
        signal: The SIGINT or SIGTERM that stopped the sweep, if one did.
    """

    codes: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    moved: dict[str, Path] = field(default_factory=dict)
    jobs: dict[str, JobRecord] = field(default_factory=dict)
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
        changed = _changed_keys(text, r.spec)
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        only_eval = bool(changed) and all(k.startswith("eval.") for k in changed)
        raise CompareError(
            f"{paths.root} was trained from a different spec than variant {r.variant!r} seed {r.seed} now gives"
            + (f" ({shown} changed)" if changed else "")
            + "; delete that directory, or give the changed variant a new name, so that no finished run is overwritten"
            + ("; only evaluation settings differ, so to keep the weights move the run out of the sweep, re-score it "
               "with `ganzoo eval RUN --metrics ...` and table it with `ganzoo compare RUN ...`" if only_eval else "")
        )
    return ""


def _changed_keys(recorded: str, spec: RunSpecBase) -> list[str]:
    """Dotted paths where a run's recorded spec.yaml differs from ``spec`` (empty when it cannot be read)."""
    def indexed(data: Any) -> Any:  # lists as {index: item}, so a change inside eval.metrics names its item
        if isinstance(data, dict):
            return {k: indexed(v) for k, v in data.items()}
        return {str(i): indexed(v) for i, v in enumerate(data)} if isinstance(data, list) else data

    try:
        old = flatten(indexed(load_yaml(recorded)))
    except Exception:  # noqa: BLE001 - a damaged file only loses the detail in the message
        return []
    new = flatten(indexed(spec_to_data(spec)))
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


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


def _start(r: SweepRun, action: str, out: Path, threads: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start the training process of ``r`` (the local pool's starter when :func:`run_sweep` has no launcher)."""
    return start_process(LaunchRun.of(SweepDir(out), r.variant, r.seed, "resume" if action == "resume" else "train"), threads, env)


def _ask_jobs(job_state: Callable[[JobRecord], str], runs: list[SweepRun], out: Path, echo: Callable[[str], None]) -> dict[str, str]:
    """The runs whose recorded job is still queued or running, with a description; failed jobs are reported."""
    sweep = SweepDir(out)
    recorded = read_jobs(sweep)
    live: dict[str, str] = {}
    for r in runs:
        job = recorded.get(r.key)
        if job is None:
            continue
        state = job_state(job)
        if state in LIVE_STATES:
            live[r.key] = f"{job.launcher} job {job.job_id} is {state} ({job.logs()})"
        elif state == "failed":
            echo(f"{r.key}: {job.launcher} job {job.job_id} failed; see {job.logs()} and {sweep.log_file(r.variant, r.seed)}")
    return live


def run_sweep(
    runs: list[SweepRun],
    out: Path,
    *,
    jobs: int = 1,
    threads: int | None = None,
    env: dict[str, str] | None = None,
    echo: Callable[[str], None] = print,
    launcher: Launcher | None = None,
    wait: bool = True,
    job_state: Callable[[JobRecord], str] | None = None,
) -> SweepOutcome:
    """Train or resume every run that is not finished: ``jobs`` local processes at once, or through ``launcher``.

    Args:
        runs: The expanded sweep.
        out: The sweep's output directory.
        jobs: Processes at once (without a launcher).
        threads: Intra-op threads per process (default: CPU count // jobs, at least 1; without a launcher).
        env: Extra environment for the training processes (without a launcher).
        echo: Progress lines go here.
        launcher: Executes the runs instead of the local pool; a run whose job
            (``OUT/jobs.json``) it reports queued or running is skipped, and the
            jobs it submits are added to ``jobs.json``.
        wait: Passed to the launcher: wait for the runs to end rather than return once submitted.
        job_state: The state of a job in ``jobs.json`` (default: ``launcher.job_state``
            for the launcher's own jobs); ``compare`` also asks the launcher that
            submitted a job when another one runs the sweep now.

    Returns:
        What was launched, submitted, skipped and set aside, and the signal that stopped it, if any.

    Raises:
        CompareError: A run directory was made from a different spec, or cannot be set aside.
    """
    outcome = SweepOutcome()
    sweep = SweepDir(out)
    if job_state is None and launcher is not None:
        own = launcher
        job_state = lambda job: own.job_state(job) if job.launcher == own.name else "unknown"  # noqa: E731 - a default
    queued = _ask_jobs(job_state, runs, out, echo) if job_state is not None else {}
    todo: list[LaunchRun] = []
    for r, step in zip(runs, plan_runs(runs, out).values(), strict=True):
        if step.action == "done":
            echo(f"{r.key}: finished earlier, reused")
        elif step.action == "running" or r.key in queued:
            outcome.skipped[r.key] = step.reason if step.action == "running" else queued[r.key]
        elif step.action == "redo":
            try:
                outcome.moved[r.key] = set_aside(out, r)
            except RunDirError:  # a trainer took it since the plan
                taker = lock_holder(sweep.run(r.variant, r.seed).root)
                outcome.skipped[r.key] = taker.describe() if taker is not None else "an unknown process"
                continue
            echo(f"{r.key}: {step.reason}; moved it aside to {outcome.moved[r.key]} and training it afresh")
            todo.append(_prepare(r, "train", sweep))
        else:
            todo.append(_prepare(r, "resume" if step.action == "resume" else "train", sweep))
    for key, holder in outcome.skipped.items():
        what = "queued or running" if key in queued else "being trained by another process"
        echo(f"{key}: {what}, {holder}; skipped")
    if not todo:
        return outcome
    if launcher is None:
        by_key = {r.key: r for r in runs}
        launched = run_pool(todo, jobs=jobs, threads=threads, env=env, echo=echo, relative_to=out,
                            start=lambda lr, t, e: _start(by_key[lr.key], lr.action, out, t, e))  # looked up per call
    else:
        launched = launcher.launch(todo, sweep, wait=wait, echo=echo)
        if launched.jobs:
            write_jobs(sweep, launched.jobs)
    outcome.codes, outcome.jobs, outcome.signal = launched.codes, launched.jobs, launched.signal
    return outcome


def plan_launch(runs: list[SweepRun], out: Path, job_state: Callable[[JobRecord], str] | None = None) -> list[LaunchRun]:
    """The runs a launch would train now, for ``compare --dry-run``: nothing is moved, written or started.

    Args:
        runs: The expanded sweep.
        out: The sweep's output directory.
        job_state: As for :func:`run_sweep`: runs whose job is queued or running are left out.
    """
    sweep = SweepDir(out)
    actions = plan_runs(runs, out)
    queued = _ask_jobs(job_state, runs, out, lambda _: None) if job_state is not None else {}
    return [
        LaunchRun.of(sweep, r.variant, r.seed, "resume" if actions[r.key].action == "resume" else "train")
        for r in runs
        if actions[r.key].action not in ("done", "running") and r.key not in queued
    ]


def _prepare(r: SweepRun, action: Literal["train", "resume"], sweep: SweepDir) -> LaunchRun:
    """Write the run's resolved spec to ``OUT/specs`` (a job on another machine reads it there)."""
    run = LaunchRun.of(sweep, r.variant, r.seed, action)
    run.spec_file.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run.spec_file, dump_yaml(spec_to_data(r.spec), header=f"# ganzoo compare: variant {r.variant}, seed {r.seed}\n"))
    return run
