"""Where a resumed run continues from, decided before anything in its directory changes.

:func:`plan_resume` reads the run directory and either returns a
:class:`ResumePlan` or refuses (``ResumeError``, exit 2) when continuing would
lose work: every checkpoint unreadable, or a finished run without a checkpoint.
Only ``--restart`` (``restart=True``) trains such a directory again from step 0.
:func:`prepare_resume` then applies the plan's changes to the directory (rank 0
only): unreadable checkpoints are moved aside, and ``--restart`` removes the
previous outputs. Refusing first means a refused resume changes nothing.
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ganzoo.checkpoint import find_readable
from ganzoo.errors import ResumeError
from ganzoo.rundir import RunDir
from ganzoo.runstate import finished_reason

__all__ = ["ResumePlan", "plan_resume", "prepare_resume"]


@dataclass
class ResumePlan:
    """What resuming a run directory will do.

    Attributes:
        run_dir: The run directory.
        checkpoint: The checkpoint training continues from; None to start from step 0.
        state: That checkpoint's content (None with ``checkpoint``).
        unreadable: Checkpoints newer than ``checkpoint`` that cannot be read, with
            why, newest first; :func:`prepare_resume` moves them aside.
        restart: ``--restart``: the previous outputs are removed and training starts at step 0.
        notes: One-line messages for the run's log, added as the plan is made and applied.
        prepared: Whether :func:`prepare_resume` has run.
    """

    run_dir: Path
    checkpoint: Path | None = None
    state: dict[str, Any] | None = None
    unreadable: list[tuple[Path, str]] = field(default_factory=list)
    restart: bool = False
    notes: list[str] = field(default_factory=list)
    prepared: bool = False


def _restart_hint(run_dir: Path) -> str:
    return f"to train it again from step 0 with its spec, run `ganzoo train --resume {run_dir} --restart`"


def plan_resume(run_dir: str | Path, *, restart: bool = False, map_location: str | torch.device = "cpu") -> ResumePlan:
    """Decide where resuming ``run_dir`` continues from, changing nothing on disk.

    Args:
        run_dir: The run directory.
        restart: Start from step 0 whatever the directory holds (``--restart``).
        map_location: Where the chosen checkpoint's tensors are loaded.

    Returns:
        The plan: the newest readable checkpoint (the unreadable newer ones to move
        aside), or step 0 when the directory has no checkpoint and no finished output
        (a run stopped before its first checkpoint), or step 0 for ``restart``.

    Raises:
        ResumeError: No checkpoint is readable (each is named with why), or the run
            finished but holds no checkpoint; nothing is changed.
    """
    run_dir = Path(run_dir)
    paths = RunDir(run_dir)
    if restart:
        return ResumePlan(run_dir, restart=True)
    found, unreadable = find_readable(paths.checkpoints, map_location)
    if found is not None:
        return ResumePlan(run_dir, checkpoint=found[0], state=found[1], unreadable=unreadable)
    if unreadable:
        listing = "\n".join(f"  - {why}" for _, why in unreadable)
        raise ResumeError(f"cannot resume {run_dir}: none of its checkpoints is readable:\n{listing}\n"
                          f"Nothing was changed; {_restart_hint(run_dir)}")
    finished = finished_reason(run_dir)
    if finished is not None:
        raise ResumeError(f"cannot resume {run_dir}: it has finished ({finished}) but holds no checkpoint to continue from. "
                          f"Nothing was changed; {_restart_hint(run_dir)}")
    note = f"{run_dir} has no checkpoint yet (the run stopped before its first one): starting from step 0"
    return ResumePlan(run_dir, notes=[note])


def _free_aside_name(paths: RunDir, path: Path) -> Path:
    n = 0
    while (target := paths.set_aside_checkpoint(path, n)).exists():
        n += 1
    return target


def prepare_resume(plan: ResumePlan) -> None:
    """Apply ``plan`` to its directory (rank 0, before training): temporary files, unreadable checkpoints, ``--restart``.

    Unreadable checkpoints are renamed to :meth:`ganzoo.RunDir.set_aside_checkpoint`
    (kept, never resumed from or pruned). ``--restart`` removes every step
    checkpoint, the best checkpoint, the sample grids, the TensorBoard events, the
    evaluation and the exported generator. ``metrics.jsonl`` is trimmed by the
    run's logger, which holds it open. One line per change is added to ``plan.notes``.

    Args:
        plan: From :func:`plan_resume`; marked ``prepared``.
    """
    paths = RunDir(plan.run_dir)
    plan.prepared = True
    if paths.checkpoints.is_dir():
        for stale in paths.checkpoints.glob(".*.tmp"):
            stale.unlink(missing_ok=True)  # a write the previous process never finished
    for path, why in plan.unreadable:
        if path.exists():
            target = _free_aside_name(paths, path)
            path.rename(target)
            plan.notes.append(f"set aside unreadable checkpoint {path.name} as {target.name} ({why})")
    if plan.restart:
        removed = [p for _, p in paths.list_checkpoints()] + [p for _, p in paths.list_sample_grids()]
        removed += [p for p in (paths.best_checkpoint, paths.generator, paths.eval) if p.exists()]
        for p in removed:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        if paths.tensorboard.is_dir():
            shutil.rmtree(paths.tensorboard, ignore_errors=True)
            removed.append(paths.tensorboard)
        what = f"removed {len(removed)} previous outputs" if removed else "nothing to remove"
        plan.notes.append(f"--restart: training {plan.run_dir} again from step 0 with its spec ({what})")
