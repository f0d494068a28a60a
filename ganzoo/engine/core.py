"""The state a run is made of, declared once for type checkers.

:class:`~ganzoo.engine.run.Run` keeps its checkpoint logic and its outputs in
two mixins (:mod:`ganzoo.engine.state`, :mod:`ganzoo.engine.outputs`) so the
loop reads in one screen. The mixins derive from :class:`RunCore` for type
checking only (at run time they derive from ``object``), so every attribute
they use is declared here with its type instead of being guessed from ``self``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pluggy
    import torch
    from torch import nn

    from ganzoo.data import DataInfo, ImageDataset
    from ganzoo.engine.distributed import DistInfo
    from ganzoo.engine.ema import EMA
    from ganzoo.engine.logging import RunLogger
    from ganzoo.evaluation import Metric
    from ganzoo.losses import LossSet
    from ganzoo.plugin.registry import Registries
    from ganzoo.rundir import RunDir
    from ganzoo.spec.model import RunSpecBase
    from ganzoo.task import Task

__all__ = ["RunCore"]


class RunCore:
    """Attributes and methods that :class:`~ganzoo.engine.run.Run` defines and its mixins use."""

    spec: RunSpecBase
    reg: Registries
    dir: Path
    paths: RunDir
    dist: DistInfo
    rank: int
    world_size: int
    hook: pluggy.HookRelay
    logger: RunLogger
    device: torch.device
    dataset: ImageDataset
    info: DataInfo
    task: Task
    nets: dict[str, nn.Module]
    init_report: dict[str, Any]
    losses: LossSet
    optimizers: dict[str, torch.optim.Optimizer]
    scalers: dict[str, torch.amp.GradScaler]
    ema: EMA | None
    step: int
    phase: str | None
    d_updates: int
    samples_seen: int
    nonfinite_skipped: int
    train_seconds: float
    metrics: list[Metric]
    best: dict[str, Any]
    spec_digest: str
    _batches: Iterator[dict[str, torch.Tensor]] | None
    _eval_dataset: ImageDataset | None
    _resumed: bool

    if TYPE_CHECKING:  # pragma: no cover - implemented by Run and its mixins

        @property
        def eval_generator(self) -> nn.Module: ...

        def log_info(self, message: str) -> None: ...

        def trains(self, network: str) -> bool: ...

        def autocast(self) -> AbstractContextManager[Any]: ...

        def _apply_init(self) -> None: ...

        def state_dict(self) -> dict[str, Any]: ...

        def load_state_dict(self, state: dict[str, Any]) -> None: ...

        def checkpoint_state(self) -> dict[str, Any]: ...

        def _track_best(self, values: dict[str, float]) -> None: ...
