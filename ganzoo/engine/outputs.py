"""What a run leaves behind besides checkpoints: sample grids, evaluations, the best checkpoint, the export.

Part of :class:`ganzoo.engine.run.Run`, kept apart so the loop reads in one screen.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ganzoo.checkpoint import atomic_save
from ganzoo.engine.device import rng_state, set_rng_state
from ganzoo.engine.failures import plugin_code
from ganzoo.fileio import atomic_write_bytes
from ganzoo.images import make_grid, save_grid

if TYPE_CHECKING:
    from ganzoo.engine.core import RunCore as _Base  # the run's attributes, declared for type checkers
else:
    _Base = object

__all__ = ["RunOutputs"]


class RunOutputs(_Base):
    """Artefacts of a :class:`~ganzoo.engine.run.Run` (a mixin; ``self`` is the run)."""

    def save_samples(self) -> Path | None:
        if self.rank != 0:
            return None
        gen = self.eval_generator
        was_training = gen.training
        gen.eval()
        with torch.no_grad(), self.autocast(), plugin_code(self, self.step, "sample"):
            images = self.task.preview(self, self.spec.train.sample_grid)
        gen.train(was_training)
        path = save_grid(images.float(), self.paths.sample_grid(self.step))
        self.logger.image(self.step, "samples", make_grid(images.float()))
        return path

    def evaluate(self) -> dict[str, float]:
        """Run the spec's metrics on the eval generator; log, write ``eval.json``, track the best checkpoint."""
        from ganzoo.evaluation import EvalContext, data_key, evaluate, write_eval_json

        if not self.metrics:
            return {}
        data_spec = self.spec.eval.data or self.spec.data
        if self._eval_dataset is None:  # built on first use; most runs evaluate on the training data
            held_out = self.spec.eval.data is not None
            self._eval_dataset = self.reg.build("dataset", data_spec.type, data_spec.params) if held_out else self.dataset
        ctx = EvalContext(self.task, self.eval_generator, self._eval_dataset, data_key(data_spec), self.device, seed=self.spec.seed)
        state = rng_state()  # evaluation must not perturb training (exact resume)
        try:
            with self.autocast(), plugin_code(self, self.step, "eval"):
                result = evaluate(ctx, self.metrics)
        finally:
            set_rng_state(state)
        self.logger.scalars(self.step, result.values, kind="eval")
        write_eval_json(self.dir, result, self.step)
        values = "  ".join(f"{k}={v:.4g}" for k, v in result.values.items())
        self.log_info(f"eval step {self.step}: {values} ({result.seconds:.1f}s)")
        self.hook.ganzoo_on_eval(run=self, step=self.step, metrics=dict(result.values))
        self._track_best(result.values)
        return result.values

    def _track_best(self, values: dict[str, float]) -> None:
        ev = self.spec.eval
        if not ev.best or ev.best not in values:
            if ev.best:
                self.log_info(f"eval.best {ev.best!r} is not among the computed metrics {sorted(values)}")
            return
        value = values[ev.best]
        old = self.best.get("value")
        better = old is None or (value < old if ev.best_mode == "min" else value > old)
        if better:
            self.best = {"metric": ev.best, "value": value, "step": self.step}
            state = self.checkpoint_state()  # best.pt resumes like any checkpoint, plugin state included
            atomic_save(state, self.paths.best_checkpoint)
            self.log_info(f"new best {ev.best}={value:.4g} at step {self.step}: {self.paths.best_checkpoint.relative_to(self.dir)}")

    def export_generator(self) -> Path:
        """Write ``generator.safetensors`` (EMA weights when enabled) for inference."""
        from safetensors.torch import save as safetensors_bytes

        sd = {k: v.detach().cpu().contiguous() for k, v in self.eval_generator.state_dict().items()}
        blob = safetensors_bytes(sd, metadata={"step": str(self.step), "spec_sha256": self.spec_digest})
        path = self.paths.generator
        atomic_write_bytes(path, blob)
        return path
