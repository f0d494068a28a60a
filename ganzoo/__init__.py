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
    "LauncherEntry": "ganzoo.plugin.entries",
    "PLUGIN_API": "ganzoo.plugin.api_version",
    "require_plugin_api": "ganzoo.plugin.api_version",
    # data contract
    "DataInfo": "ganzoo.data",
    "ImageDataset": "ganzoo.data",
    "TensorImageDataset": "ganzoo.data",
    "EmptyDatasetError": "ganzoo.data",
    "for_evaluation": "ganzoo.data",
    "require_classes": "ganzoo.data",
    "check_labels": "ganzoo.data",
    # losses and tasks
    "AdversarialLoss": "ganzoo.losses",
    "Regularizer": "ganzoo.losses",
    "ReconstructionLoss": "ganzoo.losses",
    "LossSet": "ganzoo.losses",
    "Task": "ganzoo.task",
    "LatentGenerator": "ganzoo.task",
    "TruncatableGenerator": "ganzoo.task",
    "MappedGenerator": "ganzoo.task",
    "conforms": "ganzoo.task",
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
    "upscale": "ganzoo.upscaling",
    "inpaint": "ganzoo.inpainting_api",
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
    "PluginCodeError": "ganzoo.errors",
}

# Modules a plugin may import besides ``ganzoo`` itself (tests/test_public_api.py enforces it);
# everything else is internal and may change without notice.
PUBLIC_MODULES: tuple[str, ...] = (
    "ganzoo.api",
    "ganzoo.checkpoint",
    "ganzoo.compare.launcher",
    "ganzoo.compare.pool",
    "ganzoo.errors",
    "ganzoo.evaluation",
    "ganzoo.fileio",
    "ganzoo.images",
    "ganzoo.inpainting_api",
    "ganzoo.losses",
    "ganzoo.metrics",
    "ganzoo.testing",
    "ganzoo.upscaling",
    "ganzoo.weights",
)

__all__ = [*sorted(_LAZY), "PUBLIC_MODULES", "__version__"]


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
    from ganzoo.adversarial import (  # re-exported lazily by __getattr__ above
        AdversarialRecipe as AdversarialRecipe,
    )
    from ganzoo.adversarial import (
        CriticInputs as CriticInputs,
    )
    from ganzoo.adversarial import (
        Latents as Latents,
    )
    from ganzoo.api import (  # re-exported lazily by __getattr__ above
        create as create,
    )
    from ganzoo.api import (
        list_components as list_components,
    )
    from ganzoo.api import (
        load_generator as load_generator,
    )
    from ganzoo.api import (
        load_spec as load_spec,
    )
    from ganzoo.api import (
        train as train,
    )
    from ganzoo.context import (  # re-exported lazily by __getattr__ above
        RunContext as RunContext,
    )
    from ganzoo.context import (
        StepContext as StepContext,
    )
    from ganzoo.data import (
        DataInfo as DataInfo,
    )
    from ganzoo.data import (
        EmptyDatasetError as EmptyDatasetError,
    )
    from ganzoo.data import (
        ImageDataset as ImageDataset,
    )
    from ganzoo.data import (
        TensorImageDataset as TensorImageDataset,
    )
    from ganzoo.data import (  # re-exported lazily by __getattr__ above
        check_labels as check_labels,
    )
    from ganzoo.data import (
        for_evaluation as for_evaluation,
    )
    from ganzoo.data import (
        require_classes as require_classes,
    )
    from ganzoo.engine.build import (  # re-exported lazily by __getattr__ above
        unwrap_model as unwrap_model,
    )
    from ganzoo.errors import (  # re-exported lazily by __getattr__ above
        CheckpointError as CheckpointError,
    )
    from ganzoo.errors import (
        ConfigError as ConfigError,
    )
    from ganzoo.errors import (
        DataError as DataError,
    )
    from ganzoo.errors import (
        GanzooError as GanzooError,
    )
    from ganzoo.errors import (
        PluginCodeError as PluginCodeError,
    )
    from ganzoo.errors import (
        PluginError as PluginError,
    )
    from ganzoo.errors import (
        ResumeError as ResumeError,
    )
    from ganzoo.errors import (
        RunDirError as RunDirError,
    )
    from ganzoo.errors import (
        WeightsError as WeightsError,
    )
    from ganzoo.inpainting_api import (
        inpaint as inpaint,
    )
    from ganzoo.losses import (  # re-exported lazily by __getattr__ above
        AdversarialLoss as AdversarialLoss,
    )
    from ganzoo.losses import (
        LossSet as LossSet,
    )
    from ganzoo.losses import (
        ReconstructionLoss as ReconstructionLoss,
    )
    from ganzoo.losses import (
        Regularizer as Regularizer,
    )
    from ganzoo.plugin.api_version import (  # re-exported lazily by __getattr__ above
        PLUGIN_API as PLUGIN_API,
    )
    from ganzoo.plugin.api_version import (
        require_plugin_api as require_plugin_api,
    )
    from ganzoo.plugin.entries import (
        DatasetEntry as DatasetEntry,
    )
    from ganzoo.plugin.entries import (
        LauncherEntry as LauncherEntry,
    )
    from ganzoo.plugin.entries import (
        LossEntry as LossEntry,
    )
    from ganzoo.plugin.entries import (
        MetricEntry as MetricEntry,
    )
    from ganzoo.plugin.entries import (
        ModelEntry as ModelEntry,
    )
    from ganzoo.plugin.entries import (
        NoParams as NoParams,
    )
    from ganzoo.plugin.entries import (
        Params as Params,
    )
    from ganzoo.plugin.entries import (
        TaskEntry as TaskEntry,
    )
    from ganzoo.plugin.entries import (  # re-exported lazily by __getattr__ above
        checks_inputs as checks_inputs,
    )
    from ganzoo.plugin.manager import (  # re-exported lazily by __getattr__ above
        get_plugin_manager as get_plugin_manager,
    )
    from ganzoo.plugin.manager import (
        hookimpl as hookimpl,
    )
    from ganzoo.plugin.registry import (
        Registries as Registries,
    )
    from ganzoo.plugin.registry import (  # re-exported lazily by __getattr__ above
        load_registries as load_registries,
    )
    from ganzoo.rundir import (  # re-exported lazily by __getattr__ above
        RunDir as RunDir,
    )
    from ganzoo.spec.model import (
        RunSpec as RunSpec,
    )
    from ganzoo.spec.model import (
        SpecError as SpecError,
    )
    from ganzoo.spec.model import (  # re-exported lazily by __getattr__ above
        parse_overrides as parse_overrides,
    )
    from ganzoo.task import (
        LatentGenerator as LatentGenerator,
    )
    from ganzoo.task import (
        MappedGenerator as MappedGenerator,
    )
    from ganzoo.task import (  # re-exported lazily by __getattr__ above
        Task as Task,
    )
    from ganzoo.task import (
        TruncatableGenerator as TruncatableGenerator,
    )
    from ganzoo.task import (
        conforms as conforms,
    )
    from ganzoo.upscaling import (
        upscale as upscale,
    )
