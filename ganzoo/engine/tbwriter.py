"""TensorBoard events that cannot stop a run: an I/O failure turns them off with one log line.

TensorBoard's ``SummaryWriter`` writes from a background thread. On a full disk
(ENOSPC), a read-only or vanished directory, that thread dies with a traceback
on stderr and the next ``add_scalar`` re-raises the error in the training loop.
Events are a convenience next to ``metrics.jsonl``, so :class:`SafeTensorBoard`
catches the error wherever it surfaces, logs one line and writes no more events
for the run; the thread's own traceback is suppressed by a ``threading.excepthook``
filter that passes everything but OSErrors of TensorBoard's writer threads on.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["SafeTensorBoard"]

_hook_lock = threading.Lock()
_hook_installed = False
_thread_failures: list[BaseException] = []  # OSErrors of writer threads, whose tracebacks were not printed


def _install_thread_hook() -> None:
    """Filter TensorBoard writer-thread OSErrors out of ``threading.excepthook`` (once per process).

    The writer keeps the exception and re-raises it in the main thread on its
    next call, where :class:`SafeTensorBoard` reports it: nothing is lost but the
    traceback.
    """
    global _hook_installed
    with _hook_lock:
        if _hook_installed:
            return
        previous = threading.excepthook

        def hook(args: threading.ExceptHookArgs) -> None:
            if isinstance(args.exc_value, OSError) and type(args.thread).__module__.startswith("tensorboard."):
                _thread_failures.append(args.exc_value)
                return
            previous(args)

        threading.excepthook = hook
        _hook_installed = True


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}{f' ({exc.filename})' if exc.filename else ''}"
    return str(exc) or type(exc).__name__


class SafeTensorBoard:
    """A ``SummaryWriter`` that disables itself, with one ``info`` line, on the first I/O error.

    Use :meth:`open`; the methods mirror the ``SummaryWriter`` ones the run uses.
    """

    def __init__(self, writer: Any, log_dir: Path, info: Callable[[str], None]) -> None:
        self._writer: Any = writer
        self._dir = log_dir
        self._info = info
        self._seen = len(_thread_failures)

    @classmethod
    def open(cls, log_dir: Path, info: Callable[[str], None]) -> SafeTensorBoard | None:
        """A writer for ``log_dir``, or None (after one ``info`` line) when TensorBoard is missing or cannot write there."""
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            info("tensorboard is not installed; skipping TensorBoard events (pip install tensorboard)")
            return None
        _install_thread_hook()
        seen = len(_thread_failures)
        try:
            writer = SummaryWriter(log_dir=str(log_dir))  # creates the directory and writes a first event
        except OSError as exc:
            info(cls._message(log_dir, exc))
            return None
        tb = cls(writer, log_dir, info)
        tb._seen = seen
        tb._check_thread()
        return tb if tb._writer is not None else None

    @staticmethod
    def _message(log_dir: Path, exc: BaseException) -> str:
        return (f"TensorBoard disabled for this run: cannot write events to {log_dir}: {_describe(exc)}; "
                "log.txt and metrics.jsonl are unaffected")

    @property
    def active(self) -> bool:
        """False once an error disabled it."""
        return self._writer is not None

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self._call(lambda w: w.add_scalar(tag, value, step))

    def add_image(self, tag: str, image: Any, step: int) -> None:
        self._call(lambda w: w.add_image(tag, image, step))

    def flush(self) -> None:
        self._call(lambda w: w.flush())

    def close(self) -> None:
        """Flush and close; an error now is reported like any other, never raised."""
        self._call(lambda w: w.flush())  # surfaces a writer-thread failure that close() would hide
        writer, self._writer = self._writer, None
        if writer is None:
            return
        try:
            writer.close()
        except OSError as exc:
            self._info(self._message(self._dir, exc))
            return
        if len(_thread_failures) > self._seen:  # the thread failed on the last events, while stopping
            self._info(self._message(self._dir, _thread_failures[-1]))

    def _call(self, fn: Callable[[Any], Any]) -> None:
        if self._writer is None:
            return
        try:
            fn(self._writer)
        except OSError as exc:  # ENOSPC, EROFS, EACCES, a removed directory; re-raised from the writer thread too
            self._disable(exc)
            return
        self._check_thread()

    def _check_thread(self) -> None:
        if len(_thread_failures) > self._seen:  # a writer thread failed since the last look (ours, in practice)
            exc = _thread_failures[-1]
            self._seen = len(_thread_failures)
            self._disable(exc)

    def _disable(self, exc: BaseException) -> None:
        writer, self._writer = self._writer, None
        self._seen = len(_thread_failures)
        self._info(self._message(self._dir, exc))
        if writer is not None:
            with contextlib.suppress(OSError):  # already reported; the file may be half written, which TensorBoard tolerates
                writer.close()  # stops the thread
