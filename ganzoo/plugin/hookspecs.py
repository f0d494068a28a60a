"""Hook specifications. Every hook is prefixed ``ganzoo_``.

A plugin is a module (or object) with functions marked ``@ganzoo.hookimpl`` whose
names match the specifications below. Registration hooks return iterables of
typed records; ganzoo calls each plugin's implementation separately so that it
knows which plugin supplied which name. Lifecycle hooks receive the live
:class:`ganzoo.engine.run.Run`; their return values are ignored unless stated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    import click

    from ganzoo.plugin.entries import DatasetEntry, LossEntry, MetricEntry, ModelEntry, TaskEntry
    from ganzoo.engine.run import Run

hookspec = pluggy.HookspecMarker("ganzoo")


class RegistrationSpecs:
    """Hooks that add components to the registries."""

    @hookspec
    def ganzoo_models(self) -> Iterable[ModelEntry]:
        """Return the networks (generators, discriminators, feature extractors) this plugin provides."""

    @hookspec
    def ganzoo_losses(self) -> Iterable[LossEntry]:
        """Return adversarial objectives, regularisers and reconstruction losses."""

    @hookspec
    def ganzoo_datasets(self) -> Iterable[DatasetEntry]:
        """Return the datasets this plugin provides."""

    @hookspec
    def ganzoo_metrics(self) -> Iterable[MetricEntry]:
        """Return evaluation metrics."""

    @hookspec
    def ganzoo_tasks(self) -> Iterable[TaskEntry]:
        """Return training recipes (tasks): slots, batch contract, phases, sampling."""


class SetupSpecs:
    """Hooks that extend the command line."""

    @hookspec
    def ganzoo_register_commands(self, cli: click.Group) -> None:
        """Add commands to the ``ganzoo`` command group with ``cli.add_command``."""


class LifecycleSpecs:
    """Hooks fired by the training loop, on rank 0 and every other rank alike."""

    @hookspec
    def ganzoo_on_train_start(self, run: Run) -> None:
        """Called once the networks, optimisers and data are ready, before the first step (after resume)."""

    @hookspec
    def ganzoo_on_step(self, run: Run, step: int, logs: dict[str, float]) -> None:
        """Called after every generator update with that step's scalar logs (``step`` counts from 1)."""

    @hookspec
    def ganzoo_on_eval(self, run: Run, step: int, metrics: dict[str, float]) -> None:
        """Called after a periodic evaluation with the metric values keyed by protocol name."""

    @hookspec
    def ganzoo_on_checkpoint_save(self, run: Run, state: dict[str, Any]) -> None:
        """Called before a checkpoint is written; a plugin may add its own entries to ``state["plugins"]``.

        Values must be tensors, numbers, strings, lists or dicts: checkpoints are
        loaded with ``weights_only=True``.
        """

    @hookspec
    def ganzoo_on_checkpoint_load(self, run: Run, state: dict[str, Any]) -> None:
        """Called after a checkpoint was loaded for resume; read back what ``on_checkpoint_save`` stored."""

    @hookspec
    def ganzoo_on_train_end(self, run: Run, status: str) -> None:
        """Called when training stops; ``status`` is ``completed``, ``interrupted`` or ``failed``."""

    @hookspec
    def ganzoo_on_exception(self, run: Run, error: BaseException) -> None:
        """Called when the loop raises, before ``on_train_end(status="failed")``; the error is re-raised."""


SPEC_CLASSES = (RegistrationSpecs, SetupSpecs, LifecycleSpecs)
