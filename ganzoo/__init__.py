"""ganzoo: a plugin-based GAN zoo for PyTorch.

This module is the public API, and the only import surface plugins use. Names
are resolved lazily so that ``import ganzoo`` (and ``ganzoo list``) stays fast
and a plugin importing the marker does not pull in torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    # plugin authoring
    "hookimpl": "ganzoo.plugin.manager",
    "Params": "ganzoo.plugin.entries",
    "NoParams": "ganzoo.plugin.entries",
    "checks_inputs": "ganzoo.plugin.entries",
    "ModelEntry": "ganzoo.plugin.entries",
    "LossEntry": "ganzoo.plugin.entries",
    "DatasetEntry": "ganzoo.plugin.entries",
    "MetricEntry": "ganzoo.plugin.entries",
    "TaskEntry": "ganzoo.plugin.entries",
    # data contract
    "DataInfo": "ganzoo.data",
    "ImageDataset": "ganzoo.data",
    "TensorImageDataset": "ganzoo.data",
    "EmptyDatasetError": "ganzoo.data",
    "for_evaluation": "ganzoo.data",
    # losses and tasks
    "AdversarialLoss": "ganzoo.losses",
    "Regularizer": "ganzoo.losses",
    "ReconstructionLoss": "ganzoo.losses",
    "LossSet": "ganzoo.losses",
    "Task": "ganzoo.task",
    "StepContext": "ganzoo.context",
    "RunContext": "ganzoo.context",
    "AdversarialRecipe": "ganzoo.adversarial",
    "CriticInputs": "ganzoo.adversarial",
    "Latents": "ganzoo.adversarial",
    "unwrap_model": "ganzoo.engine.build",
    # registries, specs, running
    "get_plugin_manager": "ganzoo.plugin.manager",
    "load_registries": "ganzoo.plugin.registry",
    "Registries": "ganzoo.plugin.registry",
    "create": "ganzoo.api",
    "list_components": "ganzoo.api",
    "load_spec": "ganzoo.api",
    "load_generator": "ganzoo.api",
    "train": "ganzoo.api",
    "RunDir": "ganzoo.rundir",
    "SpecError": "ganzoo.spec.model",
    "RunSpec": "ganzoo.spec.model",
    "parse_overrides": "ganzoo.spec.model",
    # errors: the command line prints these as one message, anything else with its traceback
    "GanzooError": "ganzoo.errors",
    "ConfigError": "ganzoo.errors",
    "DataError": "ganzoo.errors",
    "WeightsError": "ganzoo.errors",
    "CheckpointError": "ganzoo.errors",
    "ResumeError": "ganzoo.errors",
    "RunDirError": "ganzoo.errors",
    "PluginError": "ganzoo.errors",
}

# Modules a plugin may import besides ``ganzoo`` itself (tests/test_public_api.py enforces it);
# everything else is internal and may change without notice.
PUBLIC_MODULES: tuple[str, ...] = (
    "ganzoo.api",
    "ganzoo.checkpoint",
    "ganzoo.errors",
    "ganzoo.evaluation",
    "ganzoo.images",
    "ganzoo.losses",
    "ganzoo.metrics",
    "ganzoo.testing",
    "ganzoo.weights",
)

__all__ = sorted(_LAZY) + ["PUBLIC_MODULES", "__version__"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ganzoo' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover
    from ganzoo.api import create, list_components, load_generator, load_spec, train
    from ganzoo.data import DataInfo, EmptyDatasetError, ImageDataset, TensorImageDataset, for_evaluation
    from ganzoo.errors import CheckpointError, ConfigError, DataError, GanzooError, PluginError, ResumeError, RunDirError, WeightsError
    from ganzoo.plugin.entries import DatasetEntry, LossEntry, MetricEntry, ModelEntry, NoParams, Params, TaskEntry, checks_inputs
    from ganzoo.losses import AdversarialLoss, LossSet, ReconstructionLoss, Regularizer
    from ganzoo.plugin.manager import get_plugin_manager, hookimpl
    from ganzoo.plugin.registry import Registries, load_registries
    from ganzoo.rundir import RunDir
    from ganzoo.spec.model import RunSpec, SpecError, parse_overrides
    from ganzoo.engine.build import unwrap_model
    from ganzoo.adversarial import AdversarialRecipe, CriticInputs, Latents
    from ganzoo.context import RunContext, StepContext
    from ganzoo.task import Task
