"""Atomic file writes: every file of a run or a sweep is written through :func:`atomic_write`.

A file written here is, at any instant, either its previous content or the
complete new one: the data goes to a temporary file in the same folder, is
fsynced, and is renamed over the target (then the folder is fsynced, so the
rename survives a power cut). A full disk, a file-size limit or a kill in the
middle therefore never leaves a truncated ``spec.yaml``, ``run.json`` or
checkpoint behind. This module imports neither torch nor pydantic.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from ganzoo.errors import GanzooError, RunDirError

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "atomic_write_json", "fsync_dir"]

# Why a write failed, in words; EDQUOT is missing on some platforms.
_HINTS = {
    errno.ENOSPC: " (the disk is full)",
    errno.EFBIG: " (the file would exceed the file-size limit)",
    getattr(errno, "EDQUOT", -1): " (the disk quota is exceeded)",
}


def atomic_write(path: Path, write: Callable[[BinaryIO], Any], *, error: type[GanzooError] = RunDirError) -> None:
    """Call ``write(fh)`` on a temporary file, fsync it and rename it over ``path``.

    ``path`` is therefore either the old file or the complete new one, never partial.

    Args:
        path: The file to (re)write; its folder is created when missing.
        write: Writes the whole content to the binary file handle it is given.
        error: The error raised when the file cannot be written.

    Raises:
        GanzooError: ``error``, when the operating system refuses (full disk,
            file-size limit, permissions); the message says the previous file is intact.
    """
    path = Path(path)
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            if hasattr(os, "fchmod"):  # mkstemp makes 0600; keep what a plain write would give (no fchmod: Windows)
                os.fchmod(fh.fileno(), _mode_for(path))
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = None
        fsync_dir(path.parent)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(exc, OSError):
            hint = _HINTS.get(exc.errno or 0, "")
            raise error(f"could not write {path}{hint}: {exc.strerror or exc}; the previous file is intact") from exc
        raise


def _mode_for(path: Path) -> int:
    """The permission bits ``path`` keeps (when it exists) or would get from ``open()`` under the umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        umask = os.umask(0)  # reading the umask means setting it; put it back at once
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write_bytes(path: Path, data: bytes, *, error: type[GanzooError] = RunDirError) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`).

    Args:
        path: The file to (re)write.
        data: Its whole new content.
        error: The error raised when the file cannot be written.
    """
    atomic_write(path, lambda fh: fh.write(data), error=error)


def atomic_write_text(path: Path, text: str, *, error: type[GanzooError] = RunDirError) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_write`).

    Args:
        path: The file to (re)write.
        text: Its whole new content.
        error: The error raised when the file cannot be written.
    """
    atomic_write_bytes(path, text.encode("utf-8"), error=error)


def atomic_write_json(
    path: Path, data: Any, *, indent: int | None = 2, sort_keys: bool = False, error: type[GanzooError] = RunDirError
) -> None:
    """Write ``data`` as JSON (plus a final newline) to ``path`` atomically (see :func:`atomic_write`).

    Args:
        path: The file to (re)write.
        data: Anything :func:`json.dumps` accepts.
        indent: JSON indentation (None: one line).
        sort_keys: Sort object keys.
        error: The error raised when the file cannot be written.
    """
    atomic_write_text(path, json.dumps(data, indent=indent, sort_keys=sort_keys) + "\n", error=error)


def fsync_dir(directory: Path) -> None:
    """Flush a folder's entries (a rename in it) to disk; silently skipped where folders cannot be opened.

    Args:
        directory: The folder.
    """
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
