"""Hook specifications. Every hook is prefixed ``ganzoo_``.

A plugin is a module (or object) with functions marked ``@ganzoo.hookimpl`` whose
names match the specifications below. Registration hooks return iterables of
typed records; ganzoo calls each plugin's implementation separately so that it
knows which plugin supplied which name. Lifecycle hooks receive the run as a
:class:`ganzoo.RunContext` (the attributes a plugin may rely on); their
return values are ignored unless stated.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    import click

    from ganzoo.context import RunContext
    from ganzoo.plugin.entries import DatasetEntry, LossEntry, MetricEntry, ModelEntry, TaskEntry

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
    """Hooks fired by the training loop: on every rank unless the hook says rank 0 (DDP writes files on rank 0 only).

    docs/plugins.md has an example of each; tests/test_train.py checks the order they fire in.
    """

    @hookspec
    def ganzoo_on_train_start(self, run: RunContext) -> None:
        """Called once per ``fit``, when the networks, optimisers and data are ready and a resume has been applied, before the next step."""

    @hookspec
    def ganzoo_on_step(self, run: RunContext, step: int, logs: dict[str, float]) -> None:
        """Called every ``train.log_every`` steps and at the last step, with the logs of that interval.

        ``logs`` holds the mean of every logged term since the previous call
        (``D/loss``, ``G/adversarial``, ...) and the rates and counters
        (``steps_per_s``, ``d_updates``, ``lr/generator``, ``peak_mem_mb``);
        ``step`` counts generator updates from 1. For work after every update,
        a task's ``train_step`` is the place.
        """

    @hookspec
    def ganzoo_on_eval(self, run: RunContext, step: int, metrics: dict[str, float]) -> None:
        """Called on rank 0 after every evaluation (each ``eval.every`` steps and at the end) with the values keyed by metric name."""

    @hookspec
    def ganzoo_on_checkpoint_save(self, run: RunContext, state: dict[str, Any]) -> None:
        """Called on rank 0 before a checkpoint is written; a plugin may add its own entries to ``state["plugins"]``.

        Values must be tensors, numbers, strings, lists or dicts: checkpoints are
        loaded with ``weights_only=True``.
        """

    @hookspec
    def ganzoo_on_checkpoint_load(self, run: RunContext, state: dict[str, Any]) -> None:
        """Called on every rank after a checkpoint was loaded for resume; read back what ``on_checkpoint_save`` stored."""

    @hookspec
    def ganzoo_on_train_end(self, run: RunContext, status: str) -> None:
        """Called when training stops; ``status`` is ``completed``, ``interrupted`` or ``failed``."""

    @hookspec
    def ganzoo_on_exception(self, run: RunContext, error: BaseException) -> None:
        """Called when the loop raises (``KeyboardInterrupt`` included), before ``on_train_end``; the error is re-raised.

        Not called for a SIGINT/SIGTERM that the loop handled by saving a
        checkpoint: that run ends with ``on_train_end(status="interrupted")``.
        """


SPEC_CLASSES = (RegistrationSpecs, SetupSpecs, LifecycleSpecs)
