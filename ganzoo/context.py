"""What the engine offers plugins: the step context (tasks) and the run context (setup and hooks).

These protocols are the whole contract between the training engine and a
plugin. A task's :meth:`~ganzoo.Task.train_step` receives a
:class:`StepContext`; :meth:`~ganzoo.Task.setup`, :meth:`~ganzoo.Task.preview`
and every lifecycle hook receive a :class:`RunContext`. The engine's own class
implements both, but no plugin needs to name it: anything a plugin reads that
is not listed here may change without notice.

Every attribute is documented in docs/plugins.md, and a test checks that
the engine provides each one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import torch
from torch import nn

if TYPE_CHECKING:  # pragma: no cover
    from ganzoo.data import DataInfo, ImageDataset
    from ganzoo.losses import LossSet
    from ganzoo.rundir import RunDir
    from ganzoo.spec.model import RunSpecBase
    from ganzoo.task import Task

__all__ = ["LossFn", "RunContext", "StepContext"]

LossFn = Callable[[], tuple[torch.Tensor, dict[str, torch.Tensor]]]
"""A phase's closure: returns the loss to minimise and named scalar terms to log."""


@runtime_checkable
class StepContext(Protocol):
    """What a task may use inside :meth:`ganzoo.Task.train_step`.

    Every member is read-only for the task: the engine owns the state.
    """

    @property
    def step(self) -> int:
        """Generator updates completed before this step (0 during the first)."""
        ...

    @property
    def d_updates(self) -> int:
        """Main discriminator updates (phase ``"D"``) completed so far."""
        ...

    @property
    def d_steps(self) -> int:
        """Discriminator updates per step (``train.d_steps``)."""
        ...

    @property
    def device(self) -> torch.device:
        """Where the networks and batches live."""
        ...

    @property
    def nets(self) -> Mapping[str, nn.Module]:
        """The networks by slot (``generator``, ``discriminator``), as trained.

        They may be wrapped by DDP or ``torch.compile``; :func:`ganzoo.unwrap_model` gives the module.
        """
        ...

    @property
    def losses(self) -> LossSet:
        """The spec's built loss components, with their weights."""
        ...

    @property
    def info(self) -> DataInfo:
        """What the data is (channels, size, classes)."""
        ...

    def next_batch(self) -> dict[str, torch.Tensor]:
        """The next batch of this rank, on the device (``image`` (B, C, H, W) in [-1, 1], and the dataset's other keys)."""
        ...

    def optimize(self, network: str, loss_fn: LossFn, *, phase: str) -> bool:
        """One update of ``network`` on ``loss_fn``'s loss; False if it was skipped.

        The engine freezes the other networks, runs ``loss_fn`` under autocast,
        scales, clips, guards against non-finite values, steps the optimiser and
        logs ``<phase>/loss`` and ``<phase>/<term>``. ``phase`` ``"D"`` is the
        discriminator update that ``d_updates`` counts and ``"G"`` the one the
        EMA follows; other names (``"D_reg"``, ``"G_reg"``) are extra updates.
        A network without trainable parameters is not updated (False) and
        ``loss_fn`` is not called.
        """
        ...

    def autocast(self) -> AbstractContextManager[Any]:
        """The run's precision context, for forward passes outside :meth:`optimize`."""
        ...

    def randn(self, n: int, *shape: int) -> torch.Tensor:
        """``n`` standard-normal rows (n, *shape) for this rank, its share of one global draw.

        Use it rather than ``torch.randn`` for per-sample noise: a DDP run then
        draws exactly what one process with the same global batch would, and
        resume replays it.
        """
        ...

    def randint(self, high: int, n: int) -> torch.Tensor:
        """``n`` integers in [0, high) for this rank, shared out like :meth:`randn`."""
        ...

    def trains(self, network: str) -> bool:
        """Whether ``network`` is updated: False for a parameter-free baseline (bicubic, biharmonic)."""
        ...

    def grad_scale(self, network: str) -> float:
        """The fp16 GradScaler's current scale for ``network`` (1.0 unless precision is fp16).

        A penalty that takes ``autograd.grad`` inside the loss multiplies the
        differentiated output by it and divides the gradient by it, or small
        gradients underflow in fp16 (PyTorch's AMP notes, "gradient penalty").
        """
        ...


@runtime_checkable
class RunContext(Protocol):
    """What :meth:`ganzoo.Task.setup`, :meth:`ganzoo.Task.preview` and lifecycle hooks may use.

    Every member is read-only for a plugin: the engine owns the state.
    """

    @property
    def spec(self) -> RunSpecBase:
        """The validated spec of the run."""
        ...

    @property
    def dir(self) -> Path:
        """The run directory."""
        ...

    @property
    def paths(self) -> RunDir:
        """Every file and folder of the run directory, by name."""
        ...

    @property
    def rank(self) -> int:
        """This process's rank (0 without DDP); only rank 0 writes files."""
        ...

    @property
    def world_size(self) -> int:
        """Number of processes (1 without DDP)."""
        ...

    @property
    def device(self) -> torch.device:
        """Where the networks live."""
        ...

    @property
    def step(self) -> int:
        """Generator updates completed so far."""
        ...

    @property
    def d_updates(self) -> int:
        """Main discriminator updates completed so far."""
        ...

    @property
    def nets(self) -> Mapping[str, nn.Module]:
        """The networks by slot, as trained (possibly wrapped)."""
        ...

    @property
    def losses(self) -> LossSet:
        """The built loss components."""
        ...

    @property
    def dataset(self) -> ImageDataset:
        """The training dataset."""
        ...

    @property
    def info(self) -> DataInfo:
        """What the data is (channels, size, classes)."""
        ...

    @property
    def task(self) -> Task:
        """The run's task."""
        ...

    @property
    def eval_generator(self) -> nn.Module:
        """The generator used for samples and evaluation: the EMA copy when enabled, never wrapped."""
        ...

    def trains(self, network: str) -> bool:
        """Whether ``network`` is updated: False for a parameter-free baseline."""
        ...

    def log_info(self, message: str) -> None:
        """Write a line to the console and the run's ``log.txt`` (rank 0 only)."""
        ...
