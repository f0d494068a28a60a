"""The static parts of a run spec: training budget, optimisers, evaluation cadence.

Component slots (data, generator, losses, ...) depend on the installed plugins
and are assembled in :mod:`ganzoo.spec.model`.
"""

from __future__ import annotations

import itertools
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator

from ganzoo.plugin.entries import Params
from ganzoo.spec.limits import MAX_BATCH, MAX_D_STEPS, MAX_KEEP, MAX_SECONDS, MAX_STEPS, MAX_WORKERS, Steps

__all__ = [
    "ConstantLR", "MultiStepLR", "CosineLR", "LRSchedule", "OptimSpec", "OptimSpecs",
    "InitSource", "InitSpecs", "TrainSpec", "RESUME_MUTABLE",
]

# Keys a ``--set`` may change when resuming a run: budget and cadence only.
RESUME_MUTABLE: tuple[str, ...] = (
    "train.steps",
    "train.max_seconds",
    "train.budget_clock",
    "train.log_every",
    "train.sample_every",
    "train.checkpoint_every",
    "train.keep_checkpoints",
    "eval.every",
)


class _Warmup(Params):
    warmup: int = Field(0, ge=0, le=MAX_STEPS, description="Steps of linear warm-up from lr/warmup to lr, before the schedule proper.")


class ConstantLR(_Warmup):
    """The learning rate stays at ``lr`` (after the optional warm-up)."""

    type: Literal["constant"] = "constant"


class MultiStepLR(_Warmup):
    """Multiply the learning rate by ``gamma`` at each milestone (BasicSR's ESRGAN recipe)."""

    type: Literal["multistep"]
    milestones: list[Steps] = Field(min_length=1, description="Steps (generator updates) at which the rate drops; increasing.")
    gamma: float = Field(0.5, gt=0, le=1, description="Factor applied at each milestone.")

    @field_validator("milestones")
    @classmethod
    def _increasing(cls, v: list[int]) -> list[int]:
        if any(m <= 0 for m in v) or any(b <= a for a, b in itertools.pairwise(v)):
            raise ValueError("milestones must be positive and strictly increasing")
        return v


class CosineLR(_Warmup):
    """Cosine decay from ``lr`` to ``min_factor * lr`` over ``period`` steps (default: ``train.steps``)."""

    type: Literal["cosine"]
    min_factor: float = Field(0.0, ge=0, le=1, description="Final learning rate as a fraction of lr.")
    period: int | None = Field(None, gt=0, le=MAX_STEPS, description="Steps of the decay, warm-up included; default train.steps. Fix it "
                               "when you plan to extend train.steps on resume, or the curve changes mid-run.")


LRSchedule = Annotated[ConstantLR | MultiStepLR | CosineLR, Field(discriminator="type")]


class OptimSpec(Params):
    """Adam settings for one network."""

    lr: float = Field(2e-4, gt=0, description="Learning rate.")
    betas: tuple[float, float] = Field((0.5, 0.999), description="Adam (beta1, beta2).")
    weight_decay: float = Field(0.0, ge=0, description="L2 weight decay.")
    eps: float = Field(1e-8, gt=0, description="Adam epsilon.")
    schedule: LRSchedule = Field(default_factory=ConstantLR, description="Learning-rate schedule over generator steps.")

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(0.0 <= b < 1.0 for b in v):
            raise ValueError("each beta must be in [0, 1)")
        return v


class OptimSpecs(Params):
    """Optimiser per network; TTUR is simply two learning rates."""

    generator: OptimSpec = Field(default_factory=OptimSpec, description="Generator optimiser.")
    discriminator: OptimSpec = Field(default_factory=OptimSpec, description="Discriminator optimiser.")


class InitSource(Params):
    """Start a network from trained weights (two-stage recipes: ESRGAN from its PSNR model).

    Only a fresh run is initialised; ``--resume`` continues from the run's own checkpoint.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)  # no populate_by_name: `from_` is not a spec key

    from_: str = Field(alias="from", min_length=1, description="A run directory, a ganzoo checkpoint (.pt), or a weight file "
                       "(.safetensors, .pt/.pth state dict). Relative paths are relative to the working directory.")
    weights: Literal["eval", "raw"] = Field("eval", description="From a run or checkpoint: 'eval' takes the weights the source "
                                            "sampled with (its EMA when it had one), 'raw' the trained weights.")
    checkpoint: Literal["latest", "best"] = Field("latest", description="From a run directory: its latest checkpoint or best.pt.")
    key: str | None = Field(None, min_length=1, description="In a foreign weight file, the top-level key holding the state dict "
                            "(e.g. params_ema in BasicSR releases).")
    strict: bool = Field(True, description="Every weight must match by name and shape; false loads the matching ones and logs the rest.")
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$", description="Expected SHA-256 of the weight file.")


class InitSpecs(Params):
    """Where each network's starting weights come from (default: random initialisation)."""

    generator: InitSource | None = Field(None, description="Initial generator weights.")
    discriminator: InitSource | None = Field(None, description="Initial discriminator weights.")


class TrainSpec(Params):
    """Budget, hardware and cadence. One step is one generator update."""

    steps: int = Field(1000, gt=0, le=MAX_STEPS, description="Generator updates in total.")
    batch_size: int = Field(64, gt=0, le=MAX_BATCH, description="Global batch size (split across DDP ranks).")
    d_steps: int = Field(1, ge=1, le=MAX_D_STEPS, description="Discriminator updates per generator update (n_critic).")
    max_seconds: float | None = Field(
        None, gt=0, le=MAX_SECONDS, description="Also stop once training has taken this long (summed over resumes); a fixed time budget."
    )
    budget_clock: Literal["wall", "cpu"] = Field(
        "wall", description="What max_seconds measures: wall time, or this process's CPU time (all threads)."
    )
    device: str = Field("auto", pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$", description="auto picks cuda > mps > cpu.")
    precision: Literal["fp32", "bf16", "fp16"] = Field("fp32", description="Autocast precision; fp16 uses a GradScaler.")
    channels_last: bool = Field(False, description="channels_last memory format for networks and images (left to torch.compile on CUDA).")
    compile: bool = Field(False, description="torch.compile the networks (falls back with a message).")
    sync_batchnorm: bool = Field(
        False, description="Under DDP, convert BatchNorm to SyncBatchNorm (CUDA only); else per-replica statistics."
    )
    ema: float | None = Field(None, ge=0.0, lt=1.0, description="Generator EMA decay; None disables EMA.")
    ema_warmup: int = Field(0, ge=0, le=MAX_STEPS, description="Steps over which the EMA decay ramps up from 0.")
    grad_clip: float | None = Field(None, gt=0, description="Clip each network's gradient norm to this value.")
    max_nonfinite: int = Field(10, ge=1, le=MAX_STEPS, description="Stop after this many consecutive non-finite updates.")
    num_workers: int = Field(0, ge=0, le=MAX_WORKERS, description="DataLoader worker processes.")
    log_every: int = Field(10, ge=1, le=MAX_STEPS, description="Write metrics.jsonl and TensorBoard scalars every N steps.")
    sample_every: int = Field(500, ge=0, le=MAX_STEPS, description="Save a fixed-noise sample grid every N steps (0: only at the end).")
    checkpoint_every: int = Field(500, ge=0, le=MAX_STEPS, description="Save a checkpoint every N steps (0: only at the end).")
    keep_checkpoints: int = Field(3, ge=1, le=MAX_KEEP, description="How many recent checkpoints to keep.")
    sample_grid: int = Field(64, ge=1, le=1024, description="Images in each sample grid.")
    tensorboard: bool = Field(True, description="Write TensorBoard event files.")
    progress: bool = Field(True, description="Show a progress bar on a terminal.")

