"""An advisory lock on a run directory, held by the process that trains it.

``ganzoo train`` (fresh or ``--resume``) holds an exclusive ``flock`` on the run
directory's :attr:`ganzoo.rundir.RunDir.lock` file for as long as it trains, so a
second trainer, or a ``ganzoo compare`` that would move the directory aside or
resume it, refuses instead of interleaving its checkpoints and metrics with the
first. The lock file's text names the holder (pid, host, start time, command
line) for that refusal.

The kernel drops a ``flock`` when its process dies, however it dies (SIGKILL
included), so a crashed run never leaves a stale lock; the file itself stays (it
is never unlinked: a process that opened it just before the unlink would lock a
deleted file while a third one locked a new file, and both would "hold" the
lock). ``flock`` locks are advisory and per host: they do not protect a
directory that several hosts write over a network file system (most NFS setups
emulate them, some do not).

On platforms without :mod:`fcntl` (Windows) runs are not locked: acquiring
succeeds without a lock and :func:`lock_holder` never reports a holder.
"""

from __future__ import annotations

import errno
import os
import shlex
import socket
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType

from ganzoo.errors import RunDirError
from ganzoo.rundir import RunDir

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock; runs go unlocked (see the module docstring)
    fcntl = None  # type: ignore[assignment]  # no flock on this platform: runs are not locked (see the docstring)

__all__ = ["LockHolder", "RunLock", "lock_holder", "busy_message", "check_unlocked"]

# A probe (:func:`lock_holder`) holds a shared lock for microseconds; retrying an
# exclusive attempt for this long keeps such a probe from looking like a trainer.
_RETRY_SECONDS = 0.3


@dataclass(frozen=True)
class LockHolder:
    """Who holds a run directory's lock, as its lock file says.

    Attributes:
        pid: The holder's process id (None when the file was unreadable or empty).
        host: The holder's host name.
        since: When it took the lock (ISO 8601, local time with offset).
        command: Its command line.
    """

    pid: int | None
    host: str
    since: str
    command: str

    @classmethod
    def current(cls) -> LockHolder:
        """This process, as it describes itself in a lock file it takes."""
        argv = list(sys.argv) or ["python"]
        prog = Path(argv[0])
        # ``python -m ganzoo`` puts .../ganzoo/__main__.py in argv[0]; show the package instead
        argv[0] = prog.parent.name if prog.name == "__main__.py" else prog.name
        if argv[0] == "-c":
            argv.insert(0, "python")
        since = datetime.now().astimezone().isoformat(timespec="seconds")
        return cls(os.getpid(), socket.gethostname(), since, shlex.join(argv))

    def to_text(self) -> str:
        """The lock file's content: one ``key: value`` line per field."""
        return f"pid: {self.pid}\nhost: {self.host}\nsince: {self.since}\ncommand: {self.command}\n"

    @classmethod
    def parse(cls, text: str) -> LockHolder:
        """Read :meth:`to_text` back; missing or garbled fields read as unknown.

        Args:
            text: A lock file's content (possibly empty: read while its holder was writing it).
        """
        fields: dict[str, str] = {}
        for line in text.splitlines():
            key, sep, value = line.partition(": ")
            if sep:
                fields[key.strip()] = value.strip()
        pid = fields.get("pid", "")
        return cls(int(pid) if pid.isdigit() else None, fields.get("host", "?"), fields.get("since", "?"), fields.get("command", "?"))

    def describe(self) -> str:
        """``pid 123 on HOST since TIME (`COMMAND`)``, for messages."""
        who = f"pid {self.pid}" if self.pid is not None else "an unknown process"
        return f"{who} on {self.host} since {self.since} (`{self.command}`)"


def busy_message(run_dir: str | Path, holder: LockHolder) -> str:
    """The refusal for a run directory another process holds.

    Args:
        run_dir: The locked run directory.
        holder: Who holds it.
    """
    return f"{run_dir} is being trained by another process: {holder.describe()}; wait for it to finish or stop that process, then try again"


def _is_busy(exc: OSError) -> bool:
    return exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)


def _read_holder(path: Path) -> LockHolder:
    try:
        return LockHolder.parse(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return LockHolder.parse("")


def lock_holder(run_dir: str | Path) -> LockHolder | None:
    """Who holds ``run_dir``'s lock now, or None when nobody does.

    Creates nothing: a directory without a lock file is unlocked. A lock file
    that cannot be opened (permissions) counts as unlocked.

    Args:
        run_dir: A run directory (need not exist).
    """
    path = RunDir(Path(run_dir)).lock
    if fcntl is None or not path.is_file():
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # conflicts only with a trainer's exclusive lock
        except OSError as exc:
            if _is_busy(exc):
                return _read_holder(path)
            return None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def check_unlocked(run_dir: str | Path) -> None:
    """Raise when another process holds ``run_dir``'s lock.

    Args:
        run_dir: A run directory (need not exist).

    Raises:
        RunDirError: It is locked; the message names the holder.
    """
    holder = lock_holder(run_dir)
    if holder is not None:
        raise RunDirError(busy_message(run_dir, holder))


class RunLock:
    """The exclusive lock on one run directory; a context manager.

    Args:
        run_dir: The run directory; it must exist when :meth:`acquire` is called.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = RunDir(self.run_dir).lock
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock now."""
        return self._fd is not None

    def acquire(self) -> RunLock:
        """Take the lock and write this process's description into the lock file.

        Returns:
            ``self``.

        Raises:
            RunDirError: Another process (or another :class:`RunLock` of this
                process) holds it, named in the message; or the lock file cannot
                be created.
        """
        if self._fd is not None or fcntl is None:
            return self
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RunDirError(f"cannot create the lock file {self.path}: {exc.strerror or exc}") from None
        deadline = time.monotonic() + _RETRY_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if not _is_busy(exc) or time.monotonic() >= deadline:
                    os.close(fd)
                    if not _is_busy(exc):
                        raise RunDirError(f"cannot lock {self.path}: {exc.strerror or exc}") from None
                    raise RunDirError(busy_message(self.run_dir, _read_holder(self.path))) from None
                time.sleep(0.02)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, LockHolder.current().to_text().encode(), 0)
        except OSError:
            pass  # the lock is what matters; a full disk only loses the holder's description
        self._fd = fd
        return self

    def release(self) -> None:
        """Drop the lock (the file stays; see the module docstring). Safe to call twice."""
        fd, self._fd = self._fd, None
        if fd is not None and fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
