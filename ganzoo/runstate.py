"""What a run directory holds, read from its files: a start that failed, a finished run, the spec record.

These decide what ``ganzoo train --out`` and ``--resume`` may do with a
directory (docs/training.md, "Resume"), so that no run is ever lost: a finished
run is never retrained by accident, a hand-edited ``spec.yaml`` is never taken
for the one the run was trained with, and a start that failed leaves a directory
that can be started again. This module imports neither torch nor pydantic.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ganzoo.errors import ResumeError, RunDirError
from ganzoo.rundir import RunDir

__all__ = ["SPEC_RECORD", "file_sha256", "failed_start", "finished_reason", "check_spec_record", "no_spec_message"]

SPEC_RECORD = "spec_file_sha256"  # the run.json key holding the SHA-256 of spec.yaml's bytes as ganzoo last wrote them


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex.

    Args:
        path: An existing file.
    """
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _meta_or_none(paths: RunDir) -> dict[str, Any] | None:
    """``run.json`` as a dict; None when it is missing or unreadable."""
    try:
        meta = json.loads(paths.meta.read_bytes())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _no_records(path: Path) -> bool:
    """Whether a ``metrics.jsonl`` (or a missing one) holds no record, i.e. no step ever ran."""
    try:
        return not path.read_bytes().strip()
    except FileNotFoundError:
        return True
    except OSError:
        return False


def failed_start(root: str | Path) -> bool:
    """Whether ``root`` holds only what a start that failed before its first step leaves.

    That is: an empty ``metrics.jsonl``, no checkpoint, sample grid, generator or
    evaluation, and either no ``run.json`` (it failed while building: a missing
    ``init`` file, a seed torch refuses) or one that says it failed at step 0.
    Such a directory may be started afresh with the same ``--out`` (an empty one
    trivially qualifies). A run killed before its first checkpoint does not
    qualify (its ``run.json`` says ``running``): ``--resume`` starts it again.

    Args:
        root: A directory (need not exist).
    """
    paths = RunDir(Path(root))
    if not paths.root.is_dir():
        return False
    allowed = {paths.log, paths.metrics, paths.tensorboard, paths.samples, paths.checkpoints, paths.spec, paths.meta}
    entries = list(paths.root.iterdir())
    if any(p not in allowed and not p.name.startswith(".") for p in entries):
        return False  # something a run never writes before its first step (or the user's own file); dot files are locks and temps
    for folder in (paths.samples, paths.checkpoints):
        if folder.is_dir() and any(not p.name.startswith(".") for p in folder.iterdir()):
            return False  # only temporary files of a write that never finished may be there
    if not _no_records(paths.metrics):
        return False
    if not paths.meta.exists():
        return True  # it failed (or was killed) before run.json was written
    meta = _meta_or_none(paths)
    return meta is not None and meta.get("status") == "failed" and meta.get("step", 0) == 0


def finished_reason(root: str | Path) -> str | None:
    """Why ``root`` counts as a finished run, or None when it does not.

    Args:
        root: A run directory.

    Returns:
        ``"generator.safetensors exists"`` or ``"run.json says it completed"``, or None.
    """
    paths = RunDir(Path(root))
    if paths.generator.exists():
        return f"{paths.generator.name} exists"
    meta = _meta_or_none(paths)
    if meta is not None and meta.get("status") == "completed":
        return f"{paths.meta.name} says it completed"
    return None


def no_spec_message(root: str | Path) -> str:
    """The refusal for ``--resume`` of a directory without ``spec.yaml``, saying what to do instead.

    Args:
        root: The directory given to ``--resume``.
    """
    paths = RunDir(Path(root))
    if failed_start(root):
        return (f"{root} holds no run to resume: the run started there failed before its first step, so it has no "
                f"{paths.spec.name}; start it afresh with `ganzoo train SPEC --out {root}` (the directory is reused)")
    if not paths.is_run():
        return f"{root} is not a ganzoo run directory (no {paths.spec.name} and no {paths.meta.name})"
    return f"{paths.spec} is missing, so the run cannot be resumed (its spec is unknown)"


def check_spec_record(root: str | Path) -> None:
    """Refuse a ``spec.yaml`` that is not the file the run wrote (a hand edit, a truncation).

    ``run.json`` records the SHA-256 of ``spec.yaml``'s bytes whenever the run
    writes it; resuming compares budget and cadence changes against that spec, so
    an edited file would slip other changes past the resume rules. Runs made
    before the record existed are not checked.

    Args:
        root: A run directory with a ``spec.yaml``.

    Raises:
        ResumeError: ``spec.yaml`` differs from the record, or ``run.json`` (which
            holds the record) is missing or unreadable.
    """
    paths = RunDir(Path(root))
    escape = "pass --allow-spec-change to resume with it as it is"
    if not paths.meta.exists():
        raise ResumeError(f"{paths.meta} is missing, so {paths.spec} cannot be checked against the spec the run started with; {escape}")
    meta = _meta_or_none(paths)
    if meta is None:
        raise ResumeError(f"cannot read {paths.meta}, which records the spec the run started with, so {paths.spec} cannot be "
                          f"checked against it; {escape} ({paths.meta.name} is then rewritten)")
    recorded = meta.get(SPEC_RECORD)
    if recorded is None:
        return
    try:
        actual = file_sha256(paths.spec)
    except OSError as exc:
        raise RunDirError(f"cannot read {paths.spec}: {exc.strerror or exc}") from None
    if actual != recorded:
        raise ResumeError(f"{paths.spec} was changed after the run wrote it (its SHA-256 differs from the one recorded in "
                          f"{paths.meta.name}); --resume checks what may change against the spec the run was trained with. "
                          f"Restore the file, or {escape}")
