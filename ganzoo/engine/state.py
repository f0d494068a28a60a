"""What a checkpoint holds and how a run returns to it; where fresh weights start (``init``).

Part of :class:`ganzoo.engine.run.Run`, kept apart so the loop reads in one screen.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganzoo.checkpoint import save_checkpoint
from ganzoo.engine.build import unwrap_model
from ganzoo.engine.device import rng_state, set_rng_state
from ganzoo.engine.resume import ResumePlan, plan_resume, prepare_resume
from ganzoo.errors import ResumeError
from ganzoo.rundir import read_meta

if TYPE_CHECKING:
    from ganzoo.engine.core import RunCore as _Base  # the run's attributes, declared for type checkers
else:
    _Base = object

__all__ = ["RunState", "CHECKPOINT_FORMAT"]

CHECKPOINT_FORMAT = 1


class RunState(_Base):
    """Checkpoint state of a :class:`~ganzoo.engine.run.Run` (a mixin; ``self`` is the run)."""

    def _apply_init(self) -> None:
        """Load the spec's ``init`` sources (before EMA, DDP and compile see the networks)."""
        from ganzoo.engine.warmstart import apply_init

        for slot, src in self.spec.init:
            if src is not None and slot in self.nets:
                report = apply_init(unwrap_model(self.nets[slot]), src, slot)
                self.init_report[slot] = report.as_dict()
                skipped = len(report.missing) + len(report.unexpected) + len(report.mismatched)
                extra = f", {skipped} skipped" if skipped else ""
                self.log_info(f"{slot} initialised from {report.file} ({report.loaded} tensors{extra})")

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "format": CHECKPOINT_FORMAT,
            "step": self.step,
            "d_updates": self.d_updates,
            "samples_seen": self.samples_seen,
            "nonfinite_skipped": self.nonfinite_skipped,
            "world_size": self.world_size,
            "train_seconds": self.train_seconds,
            "nets": {k: unwrap_model(v).state_dict() for k, v in self.nets.items()},
            "optim": {k: v.state_dict() for k, v in self.optimizers.items()},
            "scalers": {k: v.state_dict() for k, v in self.scalers.items()},
            "rng": rng_state(),
            "plugins": {},
            "best": dict(self.best),
        }
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k, net in self.nets.items():
            unwrap_model(net).load_state_dict(state["nets"][k])
        for k, opt in self.optimizers.items():
            opt.load_state_dict(state["optim"][k])
        for k, scaler in self.scalers.items():
            if k in state.get("scalers", {}):
                scaler.load_state_dict(state["scalers"][k])
        if self.ema is not None and "ema" in state:
            self.ema.load_state_dict(state["ema"])
        self.step, self.d_updates = int(state["step"]), int(state["d_updates"])
        self.nonfinite_skipped = int(state.get("nonfinite_skipped", 0))
        self.best = dict(state.get("best", {}))
        self.train_seconds = float(state.get("train_seconds", 0.0))
        # Samples consumed per rank scale with the world size the checkpoint was written under.
        self.samples_seen = int(state["samples_seen"]) * int(state.get("world_size", 1)) // self.world_size
        self._batches = None
        set_rng_state(state["rng"])

    def checkpoint_state(self) -> dict[str, Any]:
        """:meth:`state_dict` plus what plugins add through ``ganzoo_on_checkpoint_save``."""
        state = self.state_dict()
        self.hook.ganzoo_on_checkpoint_save(run=self, state=state)
        return state

    def save_checkpoint(self) -> Path | None:
        if self.rank != 0:
            return None
        state = self.checkpoint_state()
        return save_checkpoint(state, self.paths.checkpoints, self.step, keep=self.spec.train.keep_checkpoints)

    def resume(self, plan: ResumePlan | None = None) -> bool:
        """Continue this run directory from its newest readable checkpoint, as :func:`~ganzoo.engine.resume.plan_resume` decides.

        Args:
            plan: The decision, made (and prepared) before this run was built; made here when None.

        Returns:
            True when a checkpoint was loaded; False when the run starts from step 0
            (no checkpoint yet, or ``--restart``), its ``init`` sources applied.

        Raises:
            ResumeError: The directory cannot be resumed without losing work, or the
                checkpoint does not fit this run's networks.
        """
        if plan is None:
            plan = plan_resume(self.dir, map_location=self.device)
        if self.rank == 0 and not plan.prepared:
            prepare_resume(plan)
        self._resumed = True
        for note in plan.notes:
            self.log_info(note)
        if plan.state is None:
            if not self.init_report:
                self._apply_init()  # nothing to resume: start fresh, from the init sources
                if self.ema is not None:
                    self.ema.shadow.load_state_dict(unwrap_model(self.nets["generator"]).state_dict())
            self.logger.truncate_after(0)  # every record is from steps this run will redo
            return False
        path, state = plan.checkpoint, plan.state
        try:
            self.load_state_dict(state)
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:  # a file from another spec, or one missing parts
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ResumeError(f"{path} does not fit this run ({type(exc).__name__}: {reason}); "
                              "was it written by another spec? (--allow-spec-change cannot change networks or optimisers)") from exc
        with contextlib.suppress(Exception):  # keep run.json's record of where the weights started
            self.init_report = dict(read_meta(self.dir).get("init", {}))
        self.logger.truncate_after(self.step)
        self.hook.ganzoo_on_checkpoint_load(run=self, state=state)
        self.log_info(f"resumed from {path.name if path else '?'} at step {self.step}")
        return True
