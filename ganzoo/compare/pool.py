"""The local pool: ``ganzoo train`` processes on this machine, ``jobs`` at once, with signals forwarded.

Each run is one process, its console output appended to its log file. SIGINT
and SIGTERM are forwarded to the training processes (each saves a checkpoint
and exits); nothing new starts, and :func:`run_pool` returns once they have all
exited, with the signal in :attr:`~ganzoo.compare.launcher.LaunchOutcome.signal`.
The built-in ``local`` launcher is this pool; public API (``ganzoo.PUBLIC_MODULES``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ganzoo.compare.launcher import LaunchOutcome, LaunchRun

__all__ = ["run_pool", "start_process", "verdict"]

Starter = Callable[[LaunchRun, int, dict[str, str]], "subprocess.Popen[bytes]"]

_POLL_SECONDS = 0.1


def start_process(r: LaunchRun, threads: int, extra_env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start ``r``'s ``ganzoo train`` in its own session, output appended to its log, ``threads`` intra-op threads.

    Args:
        r: The run.
        threads: ``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS`` of the process.
        extra_env: More environment variables.
    """
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), **extra_env}
    r.log_file.parent.mkdir(parents=True, exist_ok=True)
    with r.log_file.open("a") as fh:
        fh.write(f"$ ganzoo {' '.join(r.train_args())}\n")
        fh.flush()
        # Its own session: a terminal's Ctrl-C reaches compare only, which forwards it once;
        # two SIGINTs would make the trainer stop without saving its checkpoint.
        return subprocess.Popen(r.command(), stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)


class _Children:
    """The live training processes, and the signal handler that forwards to them."""

    def __init__(self) -> None:
        self.live: dict[str, tuple[LaunchRun, subprocess.Popen[bytes]]] = {}
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


def verdict(code: int, log: Path) -> str:
    """One line on how a training process ended: ``done``, stopped by a signal (resumable), or its exit status.

    Args:
        code: Its exit status (128 + N for signal N).
        log: Its log file, as the line should show it.
    """
    if code == 0:
        return "done"
    if code > 128 and code - 128 in (signal.SIGINT, signal.SIGTERM):
        return f"stopped by {signal.Signals(code - 128).name}; it resumes from its checkpoint next time (see {log})"
    return f"exit {code} (see {log})"


def run_pool(
    runs: Sequence[LaunchRun],
    *,
    jobs: int = 1,
    threads: int | None = None,
    env: dict[str, str] | None = None,
    echo: Callable[[str], None] = print,
    relative_to: Path | None = None,
    start: Starter = start_process,
) -> LaunchOutcome:
    """Train ``runs`` as local processes, ``jobs`` at once, forwarding SIGINT and SIGTERM.

    Args:
        runs: The runs (spec files written, directories ready).
        jobs: Processes at once.
        threads: Intra-op threads per process (default: CPU count // jobs, at least 1).
        env: Extra environment for the training processes.
        echo: Progress lines go here.
        relative_to: Log paths in the lines are shown relative to this directory (the sweep's).
        start: Starts one run's process (default :func:`start_process`).

    Returns:
        Each run's exit status, and the signal that stopped the pool, if any.
    """
    outcome = LaunchOutcome()
    todo = list(runs)
    if not todo:
        return outcome
    threads = threads or max(1, (os.cpu_count() or 1) // jobs)
    logs = todo[0].log_file.parent
    echo(f"{len(todo)} run(s) to train, {jobs} at a time, {threads} thread(s) each; logs in {logs}")
    children = _Children()
    with children.forwarding():
        while (todo and children.signal is None) or children.live:
            while todo and len(children.live) < jobs and children.signal is None:
                r = todo.pop(0)
                children.live[r.key] = (r, start(r, threads, env or {}))
            time.sleep(_POLL_SECONDS)
            children.deliver()
            for key, (r, proc) in list(children.live.items()):
                code = proc.poll()
                if code is None:
                    continue
                del children.live[key]
                outcome.codes[key] = 128 - code if code < 0 else code  # killed by signal N: 128 + N, like a shell
                echo(f"{key}: {verdict(outcome.codes[key], r.log_file.relative_to(relative_to) if relative_to else r.log_file)}")
    outcome.signal = children.signal
    return outcome
