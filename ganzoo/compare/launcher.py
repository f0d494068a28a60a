"""The launcher interface: how ``ganzoo compare`` executes the runs a sweep is missing.

``compare`` plans every (variant, seed) (:func:`ganzoo.compare.execute.plan_runs`:
reuse, resume, train afresh, or skip a run being trained), sets unusable run
directories aside, writes each run's resolved spec to ``OUT/specs/``, and hands
the runs still to train to a :class:`Launcher` as :class:`LaunchRun` records.
A launcher is a registered component (``ganzoo_launchers`` hook,
:class:`ganzoo.LauncherEntry`); the built-in ones are ``local`` (a pool of
``ganzoo train`` processes on this machine) and ``slurm`` (a submitit job array).

A launcher that returns before the runs end (a batch queue) reports its jobs as
:class:`JobRecord` s, which ``compare`` keeps in ``OUT/jobs.json``
(:func:`read_jobs`, :func:`write_jobs`); the next ``compare`` asks the launcher
for each job's state (:meth:`Launcher.job_state`) so that a queued or running
job is not submitted twice, and a failed one is reported with its log paths and
submitted again (resuming its run from the last checkpoint).

This module is public API (``ganzoo.PUBLIC_MODULES``): launcher plugins import it.
"""

from __future__ import annotations

import json
import shlex
import socket
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

from ganzoo.errors import RunDirError
from ganzoo.fileio import atomic_write_text
from ganzoo.rundir import RunDir, SweepDir

__all__ = [
    "SweepDir",
    "LaunchRun",
    "JobRecord",
    "JobState",
    "LaunchOutcome",
    "Launcher",
    "LIVE_STATES",
    "read_jobs",
    "write_jobs",
    "this_host",
]

JobState = Literal["pending", "running", "done", "failed", "unknown"]
"""What became of a submitted job: queued, running, ended well, ended badly, or not known (no record with the scheduler)."""

LIVE_STATES: frozenset[str] = frozenset({"pending", "running"})
"""Job states in which ``compare`` leaves the run alone rather than submitting it again."""


@dataclass(frozen=True)
class LaunchRun:
    """One run to train: where its files are and the ``ganzoo train`` command that trains it.

    Attributes:
        variant: The variant name.
        seed: The seed.
        action: ``train`` (start afresh in :attr:`run_dir`) or ``resume`` (continue it from its last checkpoint).
        run_dir: The run directory, ``OUT/runs/VARIANT-sSEED``.
        spec_file: The resolved spec, ``OUT/specs/VARIANT-sSEED.yaml`` (already written).
        log_file: Where the training process's console output goes, ``OUT/logs/VARIANT-sSEED.log``.
    """

    variant: str
    seed: int
    action: Literal["train", "resume"]
    run_dir: Path
    spec_file: Path
    log_file: Path

    @classmethod
    def of(cls, sweep: SweepDir, variant: str, seed: int, action: Literal["train", "resume"]) -> LaunchRun:
        """The run of ``variant`` with ``seed`` in ``sweep``, with the paths :class:`SweepDir` names."""
        return cls(variant, seed, action, sweep.run(variant, seed).root, sweep.spec_file(variant, seed), sweep.log_file(variant, seed))

    @property
    def key(self) -> str:
        """``VARIANT-sSEED``: the run's name in the sweep (and in ``jobs.json``)."""
        return SweepDir.run_name(self.variant, self.seed)

    def train_args(self) -> list[str]:
        """The ``ganzoo`` arguments that train this run: ``train --resume RUN`` or ``train SPEC --out RUN``.

        ``train --out`` accepts only an absent or empty directory (or a failed
        start's leftovers), so a run is never overwritten.
        """
        if self.action == "resume":
            return ["train", "--resume", str(self.run_dir)]
        return ["train", str(self.spec_file), "--out", str(self.run_dir)]

    def command(self, python: str | None = None) -> list[str]:
        """The whole command line: ``PYTHON -m ganzoo`` and :meth:`train_args` (``python``: default, this interpreter)."""
        return [*(shlex.split(python) if python else [sys.executable]), "-m", "ganzoo", *self.train_args()]

    def resumable(self) -> LaunchRun:
        """This run as ``resume`` once it has a checkpoint (a requeued job continues it), else unchanged."""
        has_checkpoint = RunDir(self.run_dir).is_run() and bool(RunDir(self.run_dir).list_checkpoints())
        return replace(self, action="resume") if has_checkpoint else self


@dataclass(frozen=True)
class JobRecord:
    """A job a launcher submitted for one run, as ``jobs.json`` keeps it.

    Attributes:
        key: The run's ``VARIANT-sSEED``.
        launcher: The launcher's registry name.
        job_id: The scheduler's id (``12345_3`` for task 3 of array 12345).
        folder: Where the launcher keeps the job's files (submitit's folder).
        stdout: The job's standard output file.
        stderr: The job's standard error file.
        host: The machine that submitted it.
        submitted: When, as ``YYYY-MM-DD HH:MM:SS`` UTC.
        executor: The launcher's own label for how it ran the job (``slurm``, ``local``).
    """

    key: str
    launcher: str
    job_id: str
    folder: str
    stdout: str
    stderr: str
    host: str = field(default_factory=lambda: this_host())
    submitted: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()))
    executor: str = ""

    def logs(self) -> str:
        """``stdout X, stderr Y`` (one path when they are the same file)."""
        return f"log {self.stdout}" if self.stdout == self.stderr else f"stdout {self.stdout}, stderr {self.stderr}"


def this_host() -> str:
    """This machine's name, as :attr:`JobRecord.host` records it."""
    return socket.gethostname()


@dataclass
class LaunchOutcome:
    """What :meth:`Launcher.launch` did.

    Attributes:
        codes: Exit status of each run that ended while the launcher waited, by run key
            (128 + N for a process a signal N ended).
        jobs: The jobs submitted, by run key (launchers that return before the runs end).
        signal: The SIGINT or SIGTERM that stopped the launcher, if one did.
    """

    codes: dict[str, int] = field(default_factory=dict)
    jobs: dict[str, JobRecord] = field(default_factory=dict)
    signal: int | None = None


class Launcher(ABC):
    """Executes the runs of a sweep; built by a ``LauncherEntry`` from its validated params.

    Attributes:
        name: The registry name; ``compare`` sets it after building the launcher.
    """

    name: str = ""

    @abstractmethod
    def launch(self, runs: Sequence[LaunchRun], sweep: SweepDir, *, wait: bool, echo: Callable[[str], None]) -> LaunchOutcome:
        """Train ``runs`` (their spec files are written, their directories ready).

        Args:
            runs: The runs to train or resume, in sweep order.
            sweep: The sweep's output directory.
            wait: Return only when every run has ended (``compare --wait``); a
                launcher that always waits (``local``) may ignore it.
            echo: Progress lines go here.

        Returns:
            The exit status of each run that ended, and the jobs submitted.
        """

    def job_state(self, job: JobRecord) -> JobState:
        """The state of a job this launcher submitted earlier (``unknown`` when it cannot tell).

        Args:
            job: Its record from ``jobs.json``.
        """
        return "unknown"

    def dry_run(self, runs: Sequence[LaunchRun], sweep: SweepDir) -> str:
        """What :meth:`launch` would do, as text to print (``compare --dry-run``); nothing is started or written.

        Args:
            runs: The runs it would train.
            sweep: The sweep's output directory.
        """
        return "\n".join(shlex.join(r.command()) for r in runs)


def read_jobs(sweep: SweepDir) -> dict[str, JobRecord]:
    """The job records in ``OUT/jobs.json``, by run key (none when it does not exist).

    Raises:
        RunDirError: It exists but is not a jobs file.
    """
    try:
        data = json.loads(sweep.jobs.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunDirError(f"cannot read {sweep.jobs} ({exc}); move it away to forget the jobs it lists") from None
    try:
        return {key: JobRecord(**rec) for key, rec in data["jobs"].items()}
    except (KeyError, TypeError, AttributeError) as exc:
        raise RunDirError(f"{sweep.jobs} is not a ganzoo jobs file ({type(exc).__name__}: {exc}); move it away") from None


def write_jobs(sweep: SweepDir, jobs: dict[str, JobRecord]) -> Path:
    """Add ``jobs`` to ``OUT/jobs.json`` (replacing the records of the same runs); returns its path."""
    merged = {**read_jobs(sweep), **jobs}
    text = json.dumps({"jobs": {k: asdict(v) for k, v in sorted(merged.items())}}, indent=2) + "\n"
    atomic_write_text(sweep.jobs, text)
    return sweep.jobs
