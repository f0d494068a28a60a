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
    from ganzoo.plugin.entries import DatasetEntry, LauncherEntry, LossEntry, MetricEntry, ModelEntry, TaskEntry

hookspec = pluggy.HookspecMarker("ganzoo")


class RegistrationSpecs:
    """Hooks that add components to the registries.

    Each returns an iterable of records (``ganzoo.ModelEntry``, ``LossEntry``,
    ``DatasetEntry``, ``MetricEntry``, ``TaskEntry``, ``LauncherEntry``) with a ``name``, a ``build``
    callable, a ``params`` model (a ``ganzoo.Params`` subclass) and a one-line
    ``description``; ganzoo fills in ``plugin``. They are called once per plugin
    manager, right after the plugin is imported.
    """

    @hookspec
    def ganzoo_models(self) -> Iterable[ModelEntry]:
        """Return the networks (generators, discriminators, feature extractors) this plugin provides.

        ``build(params, info: DataInfo) -> nn.Module``; ``ModelEntry.tasks`` names
        the tasks a network is written for (empty: any).

        Example:
            @hookimpl
            def ganzoo_models():
                return [ModelEntry(name="my-gen", role="generator", build=build_generator,
                                   params=MyGenParams, description="My generator.")]
        """

    @hookspec
    def ganzoo_losses(self) -> Iterable[LossEntry]:
        """Return adversarial objectives, regularisers and reconstruction losses.

        ``build(params)`` returns an ``AdversarialLoss``, a ``Regularizer`` or a
        ``ReconstructionLoss``, as ``LossEntry.loss_kind`` says.

        Example:
            @hookimpl
            def ganzoo_losses():
                return [LossEntry(name="my-hinge", loss_kind="adversarial", build=lambda p: MyHinge(p.margin),
                                  params=MyHingeParams, description="Hinge loss with a margin.")]
        """

    @hookspec
    def ganzoo_datasets(self) -> Iterable[DatasetEntry]:
        """Return the datasets this plugin provides.

        ``build(params) -> ImageDataset``.

        Example:
            @hookimpl
            def ganzoo_datasets():
                return [DatasetEntry(name="my-shapes", build=build_shapes, params=ShapesParams,
                                     description="Synthetic shapes.")]
        """

    @hookspec
    def ganzoo_metrics(self) -> Iterable[MetricEntry]:
        """Return evaluation metrics.

        ``build(params) -> ganzoo.evaluation.Metric``.

        Example:
            @hookimpl
            def ganzoo_metrics():
                return [MetricEntry(name="my-score", build=lambda p: MyScore(p.n), params=MyScoreParams,
                                    description="Mean-intensity gap between real and fake images.")]
        """

    @hookspec
    def ganzoo_tasks(self) -> Iterable[TaskEntry]:
        """Return training recipes (tasks): slots, batch contract, phases, sampling.

        ``build(params) -> Task``; ``TaskEntry.requires`` names the spec paths the
        task needs, which ``ganzoo validate`` reports when missing.

        Example:
            @hookimpl
            def ganzoo_tasks():
                return [TaskEntry(name="my-task", build=MyTask, params=MyTaskParams,
                                  requires=("discriminator", "losses.adversarial"), description="My recipe.")]
        """

    @hookspec
    def ganzoo_launchers(self) -> Iterable[LauncherEntry]:
        """Return launchers: how ``ganzoo compare`` executes the (variant, seed) runs a sweep is missing.

        ``build(params) -> ganzoo.compare.launcher.Launcher``; a sweep file's
        ``launcher: {type: NAME, params: {...}}`` section (or ``compare --launcher
        NAME --launcher-set key=value``) picks one and is validated against ``params``.

        Example:
            @hookimpl
            def ganzoo_launchers():
                return [LauncherEntry(name="my-queue", build=MyQueueLauncher, params=MyQueueParams,
                                      description="Submit each run to my batch queue.")]
        """


class SetupSpecs:
    """Hooks that extend the command line."""

    @hookspec
    def ganzoo_register_commands(self, cli: click.Group) -> None:
        """Called at CLI start-up: add commands to the ``ganzoo`` command group.

        Commands get ganzoo's error policy: a ``GanzooError`` prints as one line.

        Args:
            cli: The ``ganzoo`` group; use ``cli.add_command`` or ``@cli.command()``.

        Example:
            @hookimpl
            def ganzoo_register_commands(cli):
                @cli.command()
                def hello():
                    click.echo("hello from my plugin")
        """


class LifecycleSpecs:
    """Hooks fired by the training loop: on every rank unless the hook says rank 0 (DDP writes files on rank 0 only).

    Each receives the run as a ``ganzoo.RunContext``; return values are
    ignored. tests/test_train.py checks the order they fire in.
    """

    @hookspec
    def ganzoo_on_train_start(self, run: RunContext) -> None:
        """Called once per ``fit``, when the networks, optimisers and data are ready and a resume has been applied, before the next step.

        Args:
            run: The run.

        Example:
            @hookimpl
            def ganzoo_on_train_start(run):
                run.log_info(f"{run.spec.name}: starting at step {run.step} on {run.device}")
        """

    @hookspec
    def ganzoo_on_step(self, run: RunContext, step: int, logs: dict[str, float]) -> None:
        """Called every ``train.log_every`` steps and at the last step, with the logs of that interval.

        For work after every update, a task's ``train_step`` is the place.

        Args:
            run: The run.
            step: Generator updates so far, counted from 1.
            logs: The mean of every logged term since the previous call
                (``D/loss``, ``G/adversarial``, ...) and the rates and counters
                (``steps_per_s``, ``d_updates``, ``lr/generator``, ``peak_mem_mb``).

        Example:
            @hookimpl
            def ganzoo_on_step(run, step, logs):
                if run.rank == 0 and logs.get("D/loss", 1.0) < 1e-3:
                    run.log_info(f"step {step}: the discriminator wins, D/loss {logs['D/loss']:.2g}")
        """

    @hookspec
    def ganzoo_on_eval(self, run: RunContext, step: int, metrics: dict[str, float]) -> None:
        """Called on rank 0 after every evaluation (each ``eval.every`` steps and at the end).

        Args:
            run: The run.
            step: The step evaluated.
            metrics: The values keyed by metric name (which encodes its protocol).

        Example:
            @hookimpl
            def ganzoo_on_eval(run, step, metrics):
                with open(run.dir / "my-scores.txt", "a") as f:
                    print(step, metrics, file=f)
        """

    @hookspec
    def ganzoo_on_checkpoint_save(self, run: RunContext, state: dict[str, Any]) -> None:
        """Called on rank 0 before a checkpoint is written; a plugin may add its own entries to ``state["plugins"]``.

        Args:
            run: The run.
            state: The checkpoint about to be written. Values under
                ``state["plugins"][name]`` must be tensors, numbers, strings,
                lists or dicts: checkpoints are loaded with ``weights_only=True``.

        Example:
            @hookimpl
            def ganzoo_on_checkpoint_save(run, state):
                state["plugins"]["my_gan"] = {"seen": MY_COUNTER["seen"]}
        """

    @hookspec
    def ganzoo_on_checkpoint_load(self, run: RunContext, state: dict[str, Any]) -> None:
        """Called on every rank after a checkpoint was loaded for resume; read back what ``on_checkpoint_save`` stored.

        Args:
            run: The run.
            state: The loaded checkpoint.

        Example:
            @hookimpl
            def ganzoo_on_checkpoint_load(run, state):
                MY_COUNTER["seen"] = state["plugins"].get("my_gan", {}).get("seen", 0)
        """

    @hookspec
    def ganzoo_on_train_end(self, run: RunContext, status: str) -> None:
        """Called on every rank when training stops, whatever the reason.

        Args:
            run: The run.
            status: ``completed``, ``interrupted`` or ``failed``.

        Example:
            @hookimpl
            def ganzoo_on_train_end(run, status):
                if run.rank == 0 and status == "completed":
                    notify(f"{run.spec.name} finished at step {run.step}")
        """

    @hookspec
    def ganzoo_on_exception(self, run: RunContext, error: BaseException) -> None:
        """Called when the loop raises (``KeyboardInterrupt`` included), before ``on_train_end``; the error is re-raised.

        Not called for a SIGINT/SIGTERM that the loop handled by saving a
        checkpoint: that run ends with ``on_train_end(status="interrupted")``.

        Args:
            run: The run.
            error: What the loop raised.

        Example:
            @hookimpl
            def ganzoo_on_exception(run, error):
                run.log_info(f"my_gan: training stopped by {type(error).__name__} at step {run.step}")
        """


SPEC_CLASSES = (RegistrationSpecs, SetupSpecs, LifecycleSpecs)
