"""Errors raised by plugin code during a run, reported with what raised, where and when.

The loop runs a task's ``train_step``, sample previews and evaluation under
:func:`plugin_code`. An exception that is not a :class:`ganzoo.GanzooError`
(a shape mismatch in a forward, a bug in a loss or a metric) becomes a
:class:`ganzoo.PluginCodeError` whose one line names the step, the phase
(``run.phase``, set by ``Run.optimize``), the component (the innermost frame whose
``self`` is a network, loss, metric, dataset or the task) and the plugin (the
innermost frame in a plugin's files); the full traceback goes to ``log.txt``.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from torch import nn

from ganzoo.engine.build import unwrap_model
from ganzoo.errors import GanzooError, PluginCodeError
from ganzoo.plugin.blame import plugin_files

if TYPE_CHECKING:
    from ganzoo.engine.core import RunCore

__all__ = ["describe", "plugin_code"]


@contextlib.contextmanager
def plugin_code(run: RunCore, step: int, phase: str | None = None) -> Iterator[None]:
    """Run plugin code; an exception becomes a :class:`PluginCodeError` naming the step, phase, component and plugin.

    GanzooErrors (a plugin's own ``ConfigError``, a non-finite run) and
    ``BaseException``s that are not ``Exception``s (Ctrl-C) pass unchanged.

    Args:
        run: The run (its ``phase`` is read when the error happens).
        step: The step to report: the one being trained, or the one just finished for eval and samples.
        phase: A phase to record for the block (``eval``, ``sample``); ``Run.optimize`` records the training ones.
    """
    outer = getattr(run, "phase", None)
    if phase is not None:
        run.phase = phase
    try:
        yield
    except GanzooError:
        raise
    except Exception as exc:
        raise describe(run, exc, step) from exc
    run.phase = outer


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    if not lines:
        return type(exc).__name__
    return f"{type(exc).__name__}: {lines[0]}" + (" ..." if len(lines) > 1 else "")


def _label(run: RunCore, kind: str, name: str, role: str | None = None) -> tuple[str, str]:
    """``(type name, plugin)`` of a built component; the plugin is empty if the registry does not know it."""
    try:
        return name, run.reg[kind].get(name, role).plugin
    except Exception:  # noqa: BLE001 - naming the culprit must never hide the error being reported
        return name, ""


def _components(run: RunCore) -> dict[int, tuple[str, str, str]]:
    """``id(object) -> (what, type name, plugin)`` for every object a frame's ``self`` may be."""
    spec = run.spec
    found: dict[int, tuple[str, str, str]] = {}

    def add(obj: Any, what: str, label: tuple[str, str]) -> None:
        if obj is None:
            return
        found.setdefault(id(obj), (what, *label))
        # A network's layers, and the networks inside a loss or a metric (VGG, Inception), are theirs.
        modules = [obj] if isinstance(obj, nn.Module) else [v for v in getattr(obj, "__dict__", {}).values() if isinstance(v, nn.Module)]
        for module in modules:
            for sub in module.modules():
                found.setdefault(id(sub), (what, *label))

    for slot, net in getattr(run, "nets", {}).items():
        comp = getattr(spec, slot, None)
        label = _label(run, "model", comp.type, slot) if comp is not None else (slot, "")
        add(net, f"the {slot}", label)
        add(unwrap_model(net), f"the {slot}", label)
    ema = getattr(run, "ema", None)
    if ema is not None and spec.generator is not None:
        add(ema.shadow, "the generator (EMA copy)", _label(run, "model", spec.generator.type, "generator"))
    losses = getattr(run, "losses", None)
    if losses is not None:
        if losses.adversarial is not None and spec.losses.adversarial is not None:
            add(losses.adversarial, "the adversarial loss", _label(run, "loss", spec.losses.adversarial.type))
        for what, terms in (("regularizer", losses.regularizers), ("reconstruction loss", losses.reconstruction)):
            for name, loss, _weight in terms:
                add(loss, f"the {what}", _label(run, "loss", name))
    for metric, mspec in zip(getattr(run, "metrics", []), spec.eval.metrics, strict=False):
        add(metric, "the metric", _label(run, "metric", mspec.type))
    add(getattr(run, "task", None), "the task", _label(run, "task", spec.task.type))
    add(getattr(run, "dataset", None), "the dataset", _label(run, "dataset", spec.data.type))
    return found


def describe(run: RunCore, exc: Exception, step: int) -> PluginCodeError:
    """The :class:`PluginCodeError` for ``exc``; its traceback is written to ``log.txt`` (rank 0)."""
    try:
        components = _components(run)
        frames = [frame for frame, _ in traceback.walk_tb(exc.__traceback__)]
        component = next((components[id(s)] for f in reversed(frames) if id(s := f.f_locals.get("self")) in components), None)
        innermost = plugin_files(run.reg.pm, run.reg.all_entries()).innermost(exc.__traceback__)
    except Exception:  # noqa: BLE001 - a failure to name the culprit must not replace the error itself
        component, innermost = None, None
    phase = getattr(run, "phase", None)
    when = f"step {step}" + (f", phase {phase}" if phase else "")
    who, plugin, notes = "", None, []
    if component is not None:
        what, name, owner = component
        who = f"{what} ({name}{f', plugin {owner}' if owner else ''})"
        plugin = owner or None
    if innermost is not None:
        if not who:
            who = f"plugin {innermost.plugin}"
        same = not plugin or innermost.plugin == plugin
        notes.append(f"at {innermost.location}" if same else f"in plugin {innermost.plugin} at {innermost.location}")
        plugin = plugin or innermost.plugin
    log = run.paths.log
    text = f"{when}: {who + ' raised ' if who else ''}{_first_line(exc)}"
    if run.rank == 0 and _write_log(log, text + "".join(f" ({n})" for n in notes), exc):
        notes.append(f"traceback in {log}")
    message = text + (f" ({'; '.join(notes)})" if notes else "")
    return PluginCodeError(message, step=step, phase=phase, component=who if component else None, plugin=plugin,
                           location=innermost.location if innermost else None)


def _write_log(path: Any, message: str, exc: BaseException) -> bool:
    """Append the error line and the full traceback to ``log.txt``; False if it cannot be written."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"[{stamp}] error: {message}\n" + "".join(traceback.format_exception(exc)))
    except OSError:
        return False
    return True
