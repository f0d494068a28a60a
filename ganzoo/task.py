"""Tasks: training recipes that plugins register.

A task owns the *what* of a training step (which losses, in which phases, on
which batch keys); the core owns the *how* (precision, gradient scaling,
clipping, the non-finite guard, EMA, DDP). A task calls
:meth:`StepContext.optimize` once per phase, in the manner of stylegan3's
``accumulate_gradients(phase)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Protocol

import torch
from torch import nn

if TYPE_CHECKING:  # pragma: no cover
    from ganzoo.data import DataInfo, ImageDataset
    from ganzoo.losses import AdversarialLoss, ReconstructionLoss, Regularizer
    from ganzoo.engine.run import Run

__all__ = ["Task", "StepContext", "LossSet", "LossFn"]

# A phase's closure returns the total loss and named terms to log.
LossFn = Callable[[], tuple[torch.Tensor, dict[str, torch.Tensor]]]


@dataclass
class LossSet:
    """The built loss components of a spec, with their weights."""

    adversarial: AdversarialLoss | None = None
    adversarial_weight: float = 1.0
    regularizers: list[tuple[str, Regularizer, float]] = field(default_factory=list)
    reconstruction: list[tuple[str, ReconstructionLoss, float]] = field(default_factory=list)


class StepContext(Protocol):
    """What the core offers a task during one training step."""

    step: int
    """Generator updates completed before this step."""
    d_updates: int
    """Discriminator updates completed so far."""
    device: torch.device
    nets: dict[str, nn.Module]
    """``generator`` and ``discriminator`` as trained (possibly DDP-wrapped)."""
    losses: LossSet
    d_steps: int
    info: DataInfo

    def next_batch(self) -> dict[str, torch.Tensor]:
        """The next batch of this rank, on the device."""
        ...

    def optimize(self, network: str, loss_fn: LossFn, *, phase: str) -> bool:
        """Run one update of ``network`` on ``loss_fn``'s loss; False if skipped as non-finite.

        ``phase`` names the logged terms (``D/loss``); the phase named ``"D"`` is the
        discriminator update that ``d_updates`` counts, other names (``"D_reg"``) are extra.
        """
        ...

    def autocast(self) -> Any:
        """The precision context, for forward passes outside :meth:`optimize`."""
        ...

    def randn(self, n: int, *shape: int) -> torch.Tensor:
        """``n`` standard-normal rows for this rank, sliced from one global draw.

        Use it (not ``torch.randn``) for per-sample noise: a DDP run then sees the
        same noise as a single process with the same global batch.
        """
        ...

    def randint(self, high: int, n: int) -> torch.Tensor:
        """``n`` integers in [0, high) for this rank, sliced from one global draw."""
        ...

    def trains(self, network: str) -> bool:
        """Whether ``network`` is updated: False for a parameter-free baseline (bicubic, biharmonic)."""
        ...

    def grad_scale(self, network: str) -> float:
        """The fp16 GradScaler's current scale for ``network`` (1.0 unless precision is fp16).

        A penalty on input gradients (R1, GP) takes ``autograd.grad`` inside the
        loss; under fp16 it must scale the output by this factor first and divide
        the gradient by it after, or small gradients underflow to zero (the
        recipe of PyTorch's AMP notes, "gradient penalty").
        """
        ...


class Task(ABC):
    """Base class of a training recipe.

    Class attributes:
        slots: Networks the task trains, in ``generator``/``discriminator`` slots.
    """

    slots: tuple[str, ...] = ("generator", "discriminator")
    #: True for tasks whose samples transform real images (inpainting): outside a
    #: run, :func:`ganzoo.load_generator` then hands them the run's data via
    #: :meth:`attach_data`.
    samples_real_data: bool = False

    def __init__(self, params: Any) -> None:
        self.params = params

    def setup(self, run: Run) -> None:
        """Called once the run has built its networks and losses (before resume)."""

    def attach_data(self, data: Callable[[], ImageDataset]) -> None:
        """Outside a run, where to find real images to sample from (only when ``samples_real_data``).

        Args:
            data: Builds the run's evaluation dataset (``eval.data``, else
                ``data``) in its augmentation-free view. It is a callable, not a
                dataset, so that loading a generator for other uses (filling a
                given image) never reads, or fails on, data it does not need.
        """

    @abstractmethod
    def train_step(self, ctx: StepContext) -> None:
        """One generator update, with whatever discriminator updates precede it."""

    @abstractmethod
    def sample(self, generator: nn.Module, n: int, *, seed: int, device: torch.device, **kwargs: Any) -> torch.Tensor:
        """Generate ``n`` images (B, C, H, W) in [-1, 1], reproducibly for a given ``seed``."""

    def eval_protocol(self) -> dict[str, Any]:
        """What, besides the data and the metric, decides the images a metric scores.

        It is stored in every score's protocol record under ``task``, so two
        scores made under different settings are never ranked together: the
        inpainting holes, the super-resolution scale, a sampling truncation. Leave
        out settings at their defaults where that keeps older records comparable.
        The default is ``{}``.
        """
        return {}

    def preview(self, run: Run, n: int) -> torch.Tensor:
        """Images for the periodic sample grid; by default fixed-seed samples of the eval generator."""
        return self.sample(run.eval_generator, n, seed=run.spec.seed + 1_000_003, device=run.device)
