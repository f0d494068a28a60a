"""Crash-safe checkpoints: temp file, fsync, atomic rename; keep the last K.

Checkpoints are plain dicts of tensors and numbers loaded with
``weights_only=True``, so a file from an untrusted source cannot run code.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import torch

from ganzoo.errors import CheckpointError
from ganzoo.rundir import RunDir

__all__ = [
    "CheckpointError", "atomic_write", "atomic_save", "save_checkpoint", "list_checkpoints", "load_checkpoint", "load_latest", "prune",
]


def atomic_write(path: Path, write: Callable[[BinaryIO], Any]) -> None:
    """Call ``write(fh)`` on a temp file, fsync it and rename it over ``path``.

    ``path`` is therefore either the old file or the complete new one, never partial.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            hint = " (the disk is full)" if exc.errno == errno.ENOSPC else ""
            raise CheckpointError(f"could not write {path}{hint}: {exc.strerror or exc}; the previous file is intact") from exc
        raise


def atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` through :func:`atomic_write`."""
    atomic_write(path, lambda fh: torch.save(obj, fh))


def _fsync_dir(directory: Path) -> None:
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


def checkpoint_path(directory: Path, step: int) -> Path:
    """``directory/step_XXXXXXXX.pt``: where the checkpoint of ``step`` goes (see :meth:`ganzoo.RunDir.checkpoint`)."""
    return directory / RunDir.checkpoint_name(step)


def list_checkpoints(directory: Path) -> list[tuple[int, Path]]:
    """Completed checkpoints in ``directory``, oldest first."""
    return RunDir.checkpoints_in(directory)


def save_checkpoint(state: dict[str, Any], directory: Path, step: int, *, keep: int) -> Path:
    """Save ``state`` as ``step_XXXXXXXX.pt`` and prune all but the newest ``keep``."""
    path = checkpoint_path(directory, step)
    atomic_save(state, path)
    prune(directory, keep)
    return path


def prune(directory: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` step checkpoints (``best.pt`` is never touched)."""
    for _, p in list_checkpoints(directory)[:-keep]:
        with contextlib.suppress(OSError):
            p.unlink()


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load one checkpoint safely; anything but tensors and plain data is refused."""
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} does not exist") from None
    except Exception as exc:  # noqa: BLE001 - truncated zip, pickle refused, ...
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"cannot load checkpoint {path}: {reason}") from None
    if not isinstance(state, dict) or "step" not in state:
        raise CheckpointError(f"{path} is not a ganzoo checkpoint")
    return state


def load_latest(directory: Path, map_location: str | torch.device = "cpu") -> tuple[Path, dict[str, Any]] | None:
    """Load the newest readable checkpoint; corrupt ones are reported and skipped."""
    for _, path in reversed(list_checkpoints(directory)):
        try:
            return path, load_checkpoint(path, map_location)
        except CheckpointError as exc:
            warnings.warn(f"{exc}; trying the previous checkpoint", stacklevel=2)
    return None
