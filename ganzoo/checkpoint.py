"""Crash-safe checkpoints: temp file, fsync, atomic rename; keep the last K.

Checkpoints are plain dicts of tensors and numbers loaded with
``weights_only=True``, so a file from an untrusted source cannot run code.
"""

from __future__ import annotations

import contextlib
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import torch

from ganzoo.errors import CheckpointError
from ganzoo.fileio import atomic_write as _atomic_write
from ganzoo.rundir import RunDir

__all__ = [
    "CheckpointError", "atomic_write", "atomic_save", "save_checkpoint", "list_checkpoints", "load_checkpoint", "load_latest",
    "find_readable", "prune",
]


def atomic_write(path: Path, write: Callable[[BinaryIO], Any]) -> None:
    """Call ``write(fh)`` on a temp file, fsync it and rename it over ``path``.

    ``path`` is therefore either the old file or the complete new one, never partial.
    Kept for plugins that import it from here; new code uses :func:`ganzoo.fileio.atomic_write`.

    Raises:
        CheckpointError: The file cannot be written; the previous one is intact.
    """
    _atomic_write(path, write, error=CheckpointError)


def atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` through :func:`atomic_write`."""
    _atomic_write(path, lambda fh: torch.save(obj, fh), error=CheckpointError)


def checkpoint_path(directory: Path, step: int) -> Path:
    """``directory/step_XXXXXXXX.pt``: where the checkpoint of ``step`` goes (see :meth:`ganzoo.RunDir.checkpoint`)."""
    return directory / RunDir.checkpoint_name(step)


def list_checkpoints(directory: Path) -> list[tuple[int, Path]]:
    """Completed checkpoints in ``directory``, oldest first."""
    return RunDir.checkpoints_in(directory)


def save_checkpoint(state: dict[str, Any], directory: Path, step: int, *, keep: int) -> Path:
    """Save ``state`` as ``step_XXXXXXXX.pt`` and prune the older ones beyond ``keep`` (see :func:`prune`)."""
    path = checkpoint_path(directory, step)
    atomic_save(state, path)
    prune(directory, keep, newest_readable=step)  # the file just written atomically is readable
    return path


def prune(directory: Path, keep: int, *, newest_readable: int | None = None) -> None:
    """Delete step checkpoints older than the newest readable one, beyond the newest ``keep`` (``best.pt`` is never touched).

    The newest *readable* checkpoint anchors the count, not the newest file: a
    corrupt or foreign file with a higher step is never counted and never deleted,
    so it cannot push good checkpoints out, and at least one readable checkpoint
    always stays. Without any readable checkpoint nothing is deleted.

    Args:
        directory: The checkpoints folder.
        keep: How many to keep (at least 1): the newest readable one and the ``keep - 1`` before it.
        newest_readable: The step of the newest checkpoint known to be readable (the
            one just written); when None, checkpoints are loaded newest first to find it.
    """
    if newest_readable is None:
        found, _ = find_readable(directory)
        if found is None:
            return
        newest_readable = int(found[1]["step"])
    older = [p for s, p in list_checkpoints(directory) if s < newest_readable]
    for p in older[: max(len(older) - (max(keep, 1) - 1), 0)]:
        with contextlib.suppress(OSError):
            p.unlink()


def _verify_crc(path: Path) -> None:
    """Check every record of a zip-format checkpoint against its CRC-32.

    ``torch.load`` does not, so a checkpoint with damaged bytes inside a tensor
    would load silently with wrong weights. Records written without a CRC (zero:
    ``torch.serialization.set_crc32_options(False)``) are not checked.
    """
    if not zipfile.is_zipfile(path):
        return  # not a zip (a legacy or a truncated file): torch.load decides
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.CRC == 0:
                continue
            with archive.open(info) as fh:  # reading to the end raises BadZipFile on a CRC mismatch
                while fh.read(1 << 24):
                    pass


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load one checkpoint safely; anything but tensors and plain data is refused, and damaged bytes are detected."""
    try:
        _verify_crc(path)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} does not exist") from None
    except Exception as exc:  # noqa: BLE001 - BadZipFile, a bad header's ValueError or struct.error, ...
        raise CheckpointError(f"cannot load checkpoint {path}: the file is damaged ({exc})") from None
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} does not exist") from None
    except Exception as exc:  # noqa: BLE001 - truncated zip, pickle refused, ...
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        reason = reason.split(". ")[0].rstrip(".")  # torch appends paragraphs of advice to the one fact that matters
        raise CheckpointError(f"cannot load checkpoint {path}: {reason}") from None
    if not isinstance(state, dict) or "step" not in state:
        raise CheckpointError(f"{path} is not a ganzoo checkpoint")
    return state


def find_readable(
    directory: Path, map_location: str | torch.device = "cpu"
) -> tuple[tuple[Path, dict[str, Any]] | None, list[tuple[Path, str]]]:
    """The newest readable step checkpoint, and every newer one that is not readable.

    A checkpoint is readable when it loads (:func:`load_checkpoint`) and holds the
    step its name says.

    Args:
        directory: The checkpoints folder.
        map_location: Where the tensors of the readable checkpoint are loaded.

    Returns:
        ``((path, state) or None, [(path, why it is unreadable), ...])``, the
        unreadable ones newest first.
    """
    unreadable: list[tuple[Path, str]] = []
    for step, path in reversed(list_checkpoints(directory)):
        try:
            state = load_checkpoint(path, map_location)
        except CheckpointError as exc:
            unreadable.append((path, str(exc)))
            continue
        if not isinstance(state["step"], int) or state["step"] != step:
            unreadable.append((path, f"{path} holds step {state['step']!r}, not {step}"))
            continue
        return (path, state), unreadable
    return None, unreadable


def load_latest(
    directory: Path, map_location: str | torch.device = "cpu", *, report: Callable[[str], None] | None = None
) -> tuple[Path, dict[str, Any]] | None:
    """Load the newest readable checkpoint; unreadable newer ones are skipped and reported.

    Args:
        directory: The checkpoints folder.
        map_location: Where tensors are loaded to.
        report: Called with one line per skipped file; default: a ``note:`` line on
            stderr (a message for the user, not a Python warning with a source line).
    """
    found, unreadable = find_readable(directory, map_location)
    for _, why in unreadable:
        (report or _note)(f"{why}; trying the previous checkpoint")
    return found


def _note(message: str) -> None:
    sys.stderr.write(f"note: {message}\n")
