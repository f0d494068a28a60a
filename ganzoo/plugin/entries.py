"""Typed records that plugins return from the registration hooks.

Each record names one component, the callable that builds it, and the pydantic
model that validates its parameters. The plugin manager fills in ``plugin`` (the
name of the plugin that supplied the record); plugin authors leave it empty.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "Params",
    "NoParams",
    "Entry",
    "ModelEntry",
    "LossEntry",
    "DatasetEntry",
    "MetricEntry",
    "TaskEntry",
    "LauncherEntry",
    "KINDS",
    "checks_inputs",
    "ModelRole",
    "LossKind",
]


class Params(BaseModel):
    """Base class for component parameter models: unknown keys are an error, and so is an infinite or NaN float."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class NoParams(Params):
    """Parameter model of a component that takes no parameters."""


def checks_inputs(info: Any) -> bool:
    """Whether a params validator should check that its input files and folders exist.

    False when a finished run's saved spec is read back to use its trained
    networks (``ganzoo.load_generator``: sample, inpaint, upscale, eval), where
    the training data may since have moved; True everywhere else (validate,
    train, resume), so a missing folder is a path-qualified spec error there.

    Args:
        info: The ``pydantic.ValidationInfo`` a ``field_validator`` receives.
    """
    context = getattr(info, "context", None)
    return not (isinstance(context, dict) and context.get("check_inputs") is False)


ModelRole = Literal["generator", "discriminator", "feature-extractor"]
LossKind = Literal["adversarial", "regularizer", "reconstruction"]


@dataclass(frozen=True, kw_only=True)
class Entry:
    """A registered component.

    Attributes:
        name: Registry key, lowercase with dashes (``"dcgan"``).
        build: Callable that constructs the component; its signature depends on the kind.
        params: Pydantic model validating the component's ``params`` in a spec.
        description: One line shown by ``ganzoo list``.
        plugin: Filled in by the plugin manager with the supplying plugin's name.
    """

    name: str
    build: Callable[..., Any]
    params: type[BaseModel] = NoParams
    description: str = ""
    plugin: str = ""

    kind: str = field(default="", init=False)


@dataclass(frozen=True, kw_only=True)
class ModelEntry(Entry):
    """A network. ``build(params: P, info: DataInfo) -> torch.nn.Module``.

    Attributes:
        role: Which spec slot the network fills.
        tasks: Task names the network is written for (empty: any task).
    """

    role: ModelRole
    tasks: tuple[str, ...] = ()
    kind: str = field(default="model", init=False)


@dataclass(frozen=True, kw_only=True)
class LossEntry(Entry):
    """A loss term. ``build(params: P) -> object`` (see :mod:`ganzoo.losses` for protocols).

    Attributes:
        loss_kind: ``adversarial`` (D and G objectives on logits), ``regularizer``
            (a penalty with its own phase) or ``reconstruction`` (pred vs target).
    """

    loss_kind: LossKind
    kind: str = field(default="loss", init=False)


@dataclass(frozen=True, kw_only=True)
class DatasetEntry(Entry):
    """A dataset. ``build(params: P) -> ganzoo.data.ImageDataset``."""

    kind: str = field(default="dataset", init=False)


@dataclass(frozen=True, kw_only=True)
class MetricEntry(Entry):
    """An evaluation metric. ``build(params: P) -> ganzoo.evaluation.Metric``."""

    kind: str = field(default="metric", init=False)


@dataclass(frozen=True, kw_only=True)
class TaskEntry(Entry):
    """A training recipe. ``build(params: P) -> ganzoo.task.Task``.

    Attributes:
        requires: Dotted spec paths that must be set for this task
            (``("discriminator", "losses.adversarial")``); checked at validation.
    """

    requires: tuple[str, ...] = ()
    kind: str = field(default="task", init=False)


@dataclass(frozen=True, kw_only=True)
class LauncherEntry(Entry):
    """How ``ganzoo compare`` executes a sweep's runs. ``build(params: P) -> ganzoo.compare.launcher.Launcher``.

    Its params are a sweep file's ``launcher.params`` (and ``compare --launcher-set``).
    """

    kind: str = field(default="launcher", init=False)


KINDS: dict[str, type[Entry]] = {
    "model": ModelEntry,
    "loss": LossEntry,
    "dataset": DatasetEntry,
    "metric": MetricEntry,
    "task": TaskEntry,
    "launcher": LauncherEntry,
}
