"""The training loop: a :class:`Run` builds everything from a spec and iterates the task's phases.

Reading order: ``Run.__init__`` (build) -> ``Run.fit`` (loop) -> ``Run.optimize``
(one phase's update). Checkpoint state and ``init`` weights live in
:mod:`ganzoo.engine.state`, samples/evaluation/export in :mod:`ganzoo.engine.outputs`. One step is one
generator update; discriminator updates
are counted separately in ``d_updates``.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pluggy
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ganzoo.data import ImageDataset, ResumableSampler
from ganzoo.engine.build import build_losses, build_networks, unwrap_model
from ganzoo.engine.device import autocast, check_precision, peak_memory_mb, seed_everything, select_device
from ganzoo.engine.distributed import DistInfo, all_true, all_true_each, rank_rows, sync_buffers
from ganzoo.engine.ema import EMA
from ganzoo.engine.failures import plugin_code
from ganzoo.engine.logging import RunLogger, step_summary
from ganzoo.engine.outputs import RunOutputs
from ganzoo.engine.state import CHECKPOINT_FORMAT, RunState
from ganzoo.errors import EXIT_FAILURE, ConfigError, GanzooError
from ganzoo.plugin.registry import Registries
from ganzoo.rundir import RunDir, update_meta, write_meta, write_spec
from ganzoo.spec.model import RunSpecBase
from ganzoo.task import Task

__all__ = ["Run", "RunInterrupted", "NonFiniteError", "build_losses", "build_networks", "CHECKPOINT_FORMAT"]


class RunInterrupted(GanzooError):
    """SIGINT/SIGTERM stopped the run after a checkpoint was written; the exit status is 128 + the signal number."""

    def __init__(self, signum: int, step: int) -> None:
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(f"interrupted by {signal.Signals(signum).name} at step {step}; a checkpoint was saved")


class NonFiniteError(GanzooError, RuntimeError):
    """Too many consecutive non-finite updates: the run failed (exit status 1)."""

    exit_code = EXIT_FAILURE


class Run(RunState, RunOutputs):
    """One training run: networks, optimisers, data, logging, checkpoints.

    Args:
        spec: The validated spec.
        reg: Registries the spec was validated against.
        run_dir: Directory for every artefact (created by :func:`ganzoo.rundir.new_run_dir`).
        pm: Plugin manager whose lifecycle hooks fire; defaults to ``reg.pm``.
        dist: The process group this rank belongs to (default: a single process).
        resuming: The caller will :meth:`resume`; ``init`` sources are then read only
            if no checkpoint is found, so a resumed run never needs its init files again.
    """

    def __init__(
        self,
        spec: RunSpecBase,
        reg: Registries,
        run_dir: Path,
        *,
        pm: pluggy.PluginManager | None = None,
        dist: DistInfo | None = None,
        resuming: bool = False,
    ) -> None:
        self.spec, self.reg, self.dir = spec, reg, Path(run_dir)
        self.paths = RunDir(self.dir)  # every file and folder of the run directory, by name
        self.dist = dist or DistInfo()
        self.rank, self.world_size = self.dist.rank, self.dist.world_size
        if self.rank == 0:
            self.dir.mkdir(parents=True, exist_ok=True)
        self.hook = (pm or reg.pm).hook
        t = spec.train
        self.logger = RunLogger(self.dir, enabled=self.rank == 0, tensorboard=t.tensorboard, progress=t.progress)
        self.device = select_device(t.device)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        check_precision(t.precision, self.device)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed shapes every step: let cuDNN pick the fastest kernels
        seed_everything(spec.seed)

        self.dataset: ImageDataset = reg.build("dataset", spec.data.type, spec.data.params)
        self.info = self.dataset.info
        self.task: Task = reg.build("task", spec.task.type, spec.task.params)
        self.task.configure(spec, self.info)
        self.nets = {k: v.to(self.device) for k, v in build_networks(spec, reg, self.info, self.task.slots).items()}
        self.init_report: dict[str, Any] = {}
        if not resuming:
            self._apply_init()
        # With compile on CUDA, inductor picks conv layouts itself; handing it channels_last tensors too hits
        # a wrong stride guess in convolution_backward (pytorch/pytorch#171622; seen on torch 2.11, H200).
        self.channels_last = t.channels_last and not (t.compile and self.device.type == "cuda")
        if t.channels_last and not self.channels_last:
            self.log_info("train.channels_last is left to torch.compile on CUDA (inductor chooses conv layouts itself)")
        if self.channels_last:
            self.nets = {k: v.to(memory_format=torch.channels_last) for k, v in self.nets.items()}
        self.losses = build_losses(spec, reg)
        # A parameter-free network (a bicubic or biharmonic baseline) has nothing to optimise.
        trainable = [k for k, v in self.nets.items() if any(p.requires_grad for p in v.parameters())]
        self.optim_specs = {k: o for k in trainable if (o := getattr(spec.optim, k, None)) is not None}
        self.optimizers = {
            k: torch.optim.Adam(self.nets[k].parameters(), lr=o.lr, betas=o.betas, eps=o.eps, weight_decay=o.weight_decay)
            for k, o in self.optim_specs.items()
        }
        self.scalers = {k: torch.amp.GradScaler(self.device.type, enabled=t.precision == "fp16") for k in self.optimizers}
        self.ema = EMA(self.nets["generator"], t.ema, t.ema_warmup) if t.ema is not None else None
        if self.dist.enabled:
            self._wrap_ddp()
        if t.compile:
            self._compile()

        self.d_steps = t.d_steps
        if t.batch_size % self.world_size:
            raise ConfigError(f"train.batch_size {t.batch_size} is not divisible by the world size {self.world_size}")
        self.batch_size = t.batch_size // self.world_size
        self.sampler = ResumableSampler(len(self.dataset), seed=spec.seed, rank=self.rank, world_size=self.world_size)
        self.step = 0
        self.phase: str | None = None  # the phase being run (D, G, eval, ...): an error in plugin code names it
        self.d_updates = 0
        self.samples_seen = 0
        self.nonfinite_skipped = 0
        self.train_seconds = 0.0  # time spent in the loop, summed over resumes (for train.max_seconds)
        self._nonfinite_streak: dict[str, int] = {}
        self._terms: dict[str, list[torch.Tensor]] = {}
        self._batches: Iterator[dict[str, torch.Tensor]] | None = None
        self._stop_signal: int | None = None
        self._timed_out = False
        self.spec_digest = ""
        self._resumed = False  # set by resume(): fit() then merges into run.json instead of replacing it
        self.metrics = [reg.build("metric", m.type, m.params) for m in spec.eval.metrics] if self.rank == 0 else []
        self.best: dict[str, Any] = {}
        self._eval_dataset: ImageDataset | None = None
        self.task.setup(self)

    # ------------------------------------------------------------------ StepContext

    def autocast(self) -> Any:
        return autocast(self.spec.train.precision, self.device)

    def randn(self, n: int, *shape: int) -> torch.Tensor:
        """``n`` standard-normal rows for this rank: its share of one global draw.

        Every rank draws the whole global batch from the shared RNG stream and keeps
        every ``world_size``-th row from its rank on, the same interleaving as the
        sampler's shard of the data. So a DDP run sees exactly the noise a single
        process would, and per-image draws (an inpainting hole, an SR flip) stay
        with the image they were drawn for.
        """
        full = torch.randn(n * self.world_size, *shape, device=self.device)  # (world * n, ...)
        return rank_rows(full, self.rank, self.world_size)

    def randint(self, high: int, n: int) -> torch.Tensor:
        """``n`` integers in [0, high) for this rank, its share of one global draw like :meth:`randn`."""
        full = torch.randint(high, (n * self.world_size,), device=self.device)
        return rank_rows(full, self.rank, self.world_size)

    def trains(self, network: str) -> bool:
        """Whether ``network`` has an optimiser; a parameter-free baseline has none."""
        return network in self.optimizers

    def grad_scale(self, network: str) -> float:
        """The fp16 GradScaler's current scale for ``network``; 1.0 when it is disabled or the network is not trained."""
        scaler = self.scalers.get(network)
        return float(scaler.get_scale()) if scaler is not None and scaler.is_enabled() else 1.0

    def next_batch(self) -> dict[str, torch.Tensor]:
        """The next batch of this rank, moved to the device."""
        if self._batches is None:
            self._batches = iter(self._loader())
        batch = next(self._batches)
        self.samples_seen += self.batch_size
        out = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        if self.channels_last and "image" in out:
            out["image"] = out["image"].contiguous(memory_format=torch.channels_last)
        return out

    def optimize(self, network: str, loss_fn: Any, *, phase: str) -> bool:
        """One update of ``network``: forward under autocast, backward, clip, guard, step.

        A network without trainable parameters (a baseline) is not updated: False, and
        ``loss_fn`` is not called. ``phase`` is recorded as ``self.phase`` meanwhile.
        """
        outer, self.phase = self.phase, phase
        updated = self._update(network, loss_fn, phase=phase)
        self.phase = outer  # kept on an exception: the error report names the phase it happened in
        return updated

    def _update(self, network: str, loss_fn: Any, *, phase: str) -> bool:
        """:meth:`optimize` without the phase bookkeeping."""
        if network not in self.optimizers:
            return False
        opt, scaler = self.optimizers[network], self.scalers[network]
        for name, net in self.nets.items():
            net.requires_grad_(name == network)
        opt.zero_grad(set_to_none=True)
        with contextlib.ExitStack() as stack, self.autocast():
            for name, net in self.nets.items():
                if name != network and isinstance(net, DistributedDataParallel):
                    stack.enter_context(net.no_sync())  # a frozen network's reducer must not wait for gradients
            loss, terms = loss_fn()
            if self.dist.enabled:
                # A penalty on input gradients (R1, GP) leaves some weights unused (D's last bias);
                # DDP's reducer would wait for them forever. A zero-weighted touch of every
                # parameter marks them used, as stylegan2-ada does with `logits * 0`.
                loss = loss + 0.0 * sum(p.reshape(-1)[0] for p in self.nets[network].parameters() if p.requires_grad)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        params = [p for p in self.nets[network].parameters() if p.grad is not None]
        max_norm = self.spec.train.grad_clip or float("inf")
        gnorm = torch.nn.utils.clip_grad_norm_(params, max_norm) if params else torch.zeros((), device=self.device)
        finite = all_true(bool(torch.isfinite(loss.detach()) & torch.isfinite(gnorm)), self.dist, self.device)
        if not finite and not scaler.is_enabled():
            self._nonfinite(network, phase, loss, terms)
            opt.zero_grad(set_to_none=True)
            return False
        scale_before = scaler.get_scale() if scaler.is_enabled() else 1.0
        scaler.step(opt)  # with fp16 the scaler skips the step itself on inf/nan
        scaler.update()
        if scaler.is_enabled() and scaler.get_scale() < scale_before:
            self.nonfinite_skipped += 1
            self._record(f"{phase}/fp16_skipped", torch.ones(()))
            return False
        self._nonfinite_streak[network] = 0
        if phase == "D":  # the main D update; lazy-regulariser phases (D_reg) are extra, not counted
            self.d_updates += 1
        elif phase == "G" and self.ema is not None:  # one EMA update per step, not per lazy G_reg update
            self.ema.update(unwrap_model(self.nets["generator"]))
        self._record(f"{phase}/loss", loss.detach())
        for k, v in terms.items():
            self._record(f"{phase}/{k}", v.detach())
        if self.spec.train.grad_clip:
            self._record(f"{phase}/grad_norm", gnorm.detach())
        return True

    # ------------------------------------------------------------------ helpers

    def _set_lr(self) -> None:
        """Set every optimiser's rate for the coming step from its schedule (stateless, so resume is exact)."""
        from ganzoo.engine.schedule import lr_factor

        for k, o in self.optim_specs.items():
            lr = o.lr * lr_factor(o.schedule, self.step, self.spec.train.steps)
            for group in self.optimizers[k].param_groups:
                group["lr"] = lr

    def _loader(self) -> torch.utils.data.DataLoader:
        t = self.spec.train
        self.sampler.seek(self.samples_seen)
        return torch.utils.data.DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            sampler=self.sampler,
            num_workers=t.num_workers,
            pin_memory=self.device.type == "cuda",
            drop_last=True,
            persistent_workers=t.num_workers > 0,
            # Its own generator: creating the iterator must not draw from the global RNG,
            # or a resumed run would diverge from an uninterrupted one.
            generator=torch.Generator().manual_seed(self.spec.seed * 1_000_003 + self.samples_seen),
        )

    def _wrap_ddp(self) -> None:
        from torch.nn.parallel import DistributedDataParallel as DDP

        if self.spec.train.sync_batchnorm:
            if self.device.type != "cuda":
                raise ConfigError("train.sync_batchnorm needs CUDA (PyTorch's SyncBatchNorm has no CPU kernel); "
                                 "on the CPU keep per-replica batch norm or use networks without it")
            self.nets = {k: nn.SyncBatchNorm.convert_sync_batchnorm(v) for k, v in self.nets.items()}
        ids = [self.device.index] if self.device.type == "cuda" else None
        # DDP refuses a module with nothing to synchronise (a parameter-free baseline).
        # Buffers are synchronised once per step (distributed.sync_buffers), not in place at every forward.
        self.nets = {k: DDP(v, device_ids=ids, broadcast_buffers=False) if k in self.optimizers else v for k, v in self.nets.items()}

    def _compile(self) -> None:
        try:
            import torch._dynamo

            # Compilation is lazy (at the first forward); a graph that fails to compile
            # then runs eagerly with a warning instead of killing the run.
            torch._dynamo.config.suppress_errors = True
            self.nets = {k: torch.compile(v) for k, v in self.nets.items()}  # type: ignore[misc]  # compile's overloads return a callable, not a Module
        except Exception as exc:  # noqa: BLE001 - compile is an optimisation, never a requirement
            self.log_info(f"torch.compile is unavailable here ({type(exc).__name__}: {exc}); training eagerly")

    def _record(self, key: str, value: torch.Tensor) -> None:
        self._terms.setdefault(key, []).append(value.float())

    def _nonfinite(self, network: str, phase: str, loss: torch.Tensor, terms: dict[str, torch.Tensor]) -> None:
        self.nonfinite_skipped += 1
        streak = self._nonfinite_streak[network] = self._nonfinite_streak.get(network, 0) + 1
        bad = [k for k, v in terms.items() if not bool(torch.isfinite(v.detach()).all())]
        what = f"terms {bad}" if bad else ("loss" if not bool(torch.isfinite(loss.detach())) else "gradients")
        self.log_info(f"step {self.step + 1}: non-finite {what} in phase {phase}; update skipped")
        if streak >= self.spec.train.max_nonfinite:
            raise NonFiniteError(
                f"{streak} consecutive non-finite updates of the {network} (last at step {self.step + 1}, phase {phase}, "
                f"non-finite {what}); stopping. The last good checkpoint is intact. Try a lower learning rate, bf16 instead "
                "of fp16, or train.grad_clip."
            )

    def log_info(self, message: str) -> None:
        self.logger.info(message)

    @property
    def eval_generator(self) -> nn.Module:
        """The generator used for samples and evaluation: the EMA copy when enabled."""
        return self.ema.shadow if self.ema is not None else unwrap_model(self.nets["generator"])

    # ------------------------------------------------------------------ the loop

    def _due(self, every: int) -> bool:
        return every > 0 and self.step % every == 0

    def _flush_logs(self, t0: float, step0: int) -> dict[str, float]:
        logs = {k: float(torch.stack(v).mean()) for k, v in self._terms.items()}
        self._terms.clear()
        elapsed = max(time.perf_counter() - t0, 1e-9)
        rate = (self.step - step0) / elapsed
        logs["steps_per_s"] = rate
        logs["real_img_per_s"] = rate * self.spec.train.batch_size * self.d_steps
        logs["d_updates"] = float(self.d_updates)
        logs["nonfinite_skipped"] = float(self.nonfinite_skipped)
        for k, opt in self.optimizers.items():
            logs[f"lr/{k}"] = float(opt.param_groups[0]["lr"])
        logs["peak_mem_mb"] = peak_memory_mb(self.device)
        return logs

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._stop_signal is not None:  # a second Ctrl-C: stop now; files are written atomically
            signal.signal(signum, signal.SIG_DFL)
            raise KeyboardInterrupt
        # No I/O here: the handler can interrupt a write to log.txt, and re-entering the
        # same buffered file raises. The loop logs the stop when it sees the flag.
        self._stop_signal = signum

    def _keep_going(self, budget_start: float, clock: Any, c0: float) -> bool:
        """False once a signal arrived or the time budget is spent.

        Under DDP both verdicts are agreed in one collective, so every rank leaves
        the loop at the same step, whichever rank got the signal.
        """
        limit = self.spec.train.max_seconds
        # The verdict and the recorded total come from one clock reading, so a run
        # stopped by the budget never records less than the budget.
        self.train_seconds = budget_start + clock() - c0
        within = limit is None or self.train_seconds < limit
        no_signal, within = all_true_each((self._stop_signal is None, within), self.dist, self.device)
        if not within:
            self._timed_out = True
            self.log_info(f"time budget of {limit:g}s reached at step {self.step}")
        if not no_signal:
            name = signal.Signals(self._stop_signal).name if self._stop_signal is not None else "a stop signal on another rank"
            self.log_info(f"received {name}: stopping at step {self.step}, saving a checkpoint")
        return no_signal and within

    def fit(self) -> str:
        """Train until ``train.steps``; returns ``completed`` (raises on interruption or failure)."""
        t = self.spec.train
        self.spec_digest = write_spec(self.spec, self.dir) if self.rank == 0 else ""
        if self.rank == 0:
            counts = {k: sum(p.numel() for p in unwrap_model(v).parameters()) for k, v in self.nets.items()}
            extra: dict[str, Any] = {"status": "running", "parameters": counts}
            if self.init_report:
                extra["init"] = self.init_report
            write_meta(self.dir, spec_digest=self.spec_digest, info=self.info, extra=extra, merge=self._resumed)
        in_main = threading.current_thread() is threading.main_thread()  # signal handlers can only be set there
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)} if in_main else {}
        status = "failed"
        try:
            # Inside the try: a plugin failing at the start marks the run failed (not "running" forever),
            # and ganzoo.runstate.failed_start then lets the same --out be started again.
            self.hook.ganzoo_on_train_start(run=self)
            self.log_info(
                f"training {self.spec.name}: {t.steps} steps, batch {t.batch_size}, device {self.device}, precision {t.precision}, "
                f"start step {self.step}"
            )
            self.logger.start_progress(self.step, t.steps)
            t0, step0 = time.perf_counter(), self.step
            budget_start, clock = self.train_seconds, (time.process_time if t.budget_clock == "cpu" else time.perf_counter)
            c0 = clock()
            while self.step < t.steps and self._keep_going(budget_start, clock, c0):
                self._set_lr()
                self.phase = None
                with plugin_code(self, self.step + 1):  # an error names the step, phase, component and plugin
                    self.task.train_step(self)
                sync_buffers(self.nets.values(), self.dist)
                self.step += 1
                self.train_seconds = budget_start + clock() - c0
                if self._due(t.log_every) or self.step == t.steps:
                    logs = self._flush_logs(t0, step0)
                    self.logger.scalars(self.step, logs)
                    self.logger.progress(self.step, logs)
                    self.hook.ganzoo_on_step(run=self, step=self.step, logs=logs)
                    # A progress bar already shows every interval; without one (off a terminal, in a
                    # batch job's log) each interval gets a line with rate and ETA.
                    if not self.logger.shows_bar or self._due(t.log_every * 10) or self.step == t.steps:
                        self.log_info(step_summary(self.step, t.steps, logs))
                if self._due(t.sample_every):
                    self.save_samples()
                if self._due(self.spec.eval.every):
                    self.evaluate()
                if self._due(t.checkpoint_every):
                    self.save_checkpoint()
            if self.step < t.steps and not self._timed_out:  # left the loop on a signal (on some rank)
                self.save_checkpoint()
                status = "interrupted"
                raise RunInterrupted(self._stop_signal or signal.SIGTERM, self.step)
            if not self._due(t.sample_every):
                self.save_samples()
            if not self._due(self.spec.eval.every):
                self.evaluate()
            if not self._due(t.checkpoint_every):
                self.save_checkpoint()
            if self.rank == 0:
                self.export_generator()
            status = "completed"
            self.log_info(f"done at step {self.step}; artefacts in {self.dir}")
            return status
        except RunInterrupted:
            raise
        except BaseException as exc:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            self.hook.ganzoo_on_exception(run=self, error=exc)
            raise
        finally:
            if self.rank == 0:
                with contextlib.suppress(OSError, GanzooError):  # a full disk must not mask the real error
                    update_meta(self.dir, status=status, step=self.step, d_updates=self.d_updates,
                                train_seconds=round(self.train_seconds, 3))
            self.hook.ganzoo_on_train_end(run=self, status=status)
            for s, h in previous.items():
                signal.signal(s, h)
            self.logger.close()
