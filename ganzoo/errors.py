"""The errors ganzoo raises on bad input, all under one base.

The command line turns exactly :class:`GanzooError` (and click's usage errors)
into one message and an exit status; any other exception is a bug, in ganzoo
or in a plugin, and keeps its traceback. A plugin that rejects its input
raises one of these (they are public: ``ganzoo.ConfigError`` and so on), so its
users get the same one-line message as ganzoo's own.

Each subclass also derives from the builtin that callers caught before the
hierarchy existed (``ValueError``, ``RuntimeError``, ...), so ``except
ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INPUT",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "GanzooError",
    "PluginCodeError",
    "PluginError",
    "ResumeError",
    "RunDirError",
    "WeightsError",
]

EXIT_INPUT = 2  # bad input (a spec, an argument, a mask that breaks the convention): like click's usage errors
EXIT_FAILURE = 1  # the run itself failed (non-finite losses), or a file it needs is missing or unreadable (weights, images, data)


class GanzooError(Exception):
    """Base of every error that is the user's input, not a bug; ``str()`` is the whole message.

    Attributes:
        exit_code: The command line's exit status for this error.
    """

    exit_code: int = EXIT_INPUT


class ConfigError(GanzooError, ValueError):
    """The spec's components do not fit together (found when they are built, after validation)."""


class DataError(GanzooError, ValueError):
    """A dataset or an input image cannot be read or is unusable (empty, corrupt, too large)."""

    exit_code = EXIT_FAILURE  # docs/inpainting.md, docs/super-resolution.md: an unreadable image exits 1


class WeightsError(GanzooError, RuntimeError):
    """Pretrained weights are missing, or their checksum or architecture does not match."""

    exit_code = EXIT_FAILURE  # docs/metrics.md: a missing weight file exits 1


class CheckpointError(GanzooError, RuntimeError):
    """A checkpoint cannot be written, read or applied."""


class ResumeError(GanzooError, RuntimeError):
    """A run cannot be resumed as asked (no checkpoint, a changed spec)."""


class RunDirError(GanzooError, RuntimeError):
    """A run directory cannot be created, written or read."""


class PluginError(GanzooError, RuntimeError):
    """A plugin cannot be loaded or registered, or a registry lookup failed."""


class PluginCodeError(GanzooError):
    """Plugin code raised during a run: a task's ``train_step``, a network's forward, a loss, a metric, a preview.

    The message names the step, the phase, the component and the plugin it came
    from, and where the traceback was written (the run's ``log.txt``); the
    original exception is the ``__cause__`` (``ganzoo --debug`` prints it).

    Attributes:
        step: The step being trained (1-based), or the step after which it evaluated or sampled.
        phase: ``D``, ``D_reg``, ``G``, ``G_reg``, ``eval``, ``sample`` or ``None`` (between phases).
        component: What raised, e.g. ``the discriminator (dcgan, plugin ganzoo_dcgan)``, if known.
        plugin: The plugin whose code raised (innermost plugin frame, else the component's), if known.
        location: ``file:line`` of the innermost frame in that plugin, if any.
    """

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, *, step: int, phase: str | None, component: str | None = None,
                 plugin: str | None = None, location: str | None = None) -> None:
        super().__init__(message)
        self.step, self.phase, self.component, self.plugin, self.location = step, phase, component, plugin, location
