"""The ``local`` launcher: the pool of ``ganzoo train`` processes that ``compare`` has always used."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ganzoo.compare.launcher import Launcher, LaunchOutcome, LaunchRun, SweepDir
from ganzoo.compare.pool import run_pool
from ganzoo_launch.params import LocalParams

__all__ = ["LocalLauncher"]


class LocalLauncher(Launcher):
    """Trains the runs on this machine, ``params.jobs`` at once, and returns when they have ended."""

    def __init__(self, params: LocalParams) -> None:
        self.params = params

    def launch(self, runs: Sequence[LaunchRun], sweep: SweepDir, *, wait: bool, echo: Callable[[str], None]) -> LaunchOutcome:
        return run_pool(runs, jobs=self.params.jobs, threads=self.params.threads, echo=echo, relative_to=sweep.root)

    def dry_run(self, runs: Sequence[LaunchRun], sweep: SweepDir) -> str:
        head = f"# ganzoo compare --dry-run: {len(runs)} run(s) on this machine, {self.params.jobs} at a time; logs in {sweep.logs}"
        return "\n".join([head, super().dry_run(runs, sweep)]) if runs else head
