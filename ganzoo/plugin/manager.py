"""Plugin discovery: entry points, isolation of broken plugins, blocking and tracing.

Built-in plugins are found exactly like third-party ones, through the ``ganzoo``
entry-point group. A plugin that fails to import (an exception, or ``sys.exit``
at import) is recorded once and skipped, so that one broken package never takes
the whole zoo down; Ctrl-C still stops discovery.
"""

from __future__ import annotations

import difflib
import importlib.metadata as md
import os
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any

import pluggy

from ganzoo.plugin.hookspecs import SPEC_CLASSES

ENTRY_POINT_GROUP = "ganzoo"
DISABLE_ENV = "GANZOO_DISABLE_PLUGINS"
TRACE_ENV = "GANZOO_TRACE_PLUGINS"

hookimpl = pluggy.HookimplMarker("ganzoo")


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded or registered.

    Attributes:
        name: The entry-point (or explicit) name.
        distribution: The installed distribution, ``<explicit>`` or ``?``.
        error: ``Type: message`` (the whole traceback under ``GANZOO_TRACE_PLUGINS``).
        stage: ``import``, ``register`` or ``entry-point``.
        module: The module (or object) the plugin is, when known, so a plugin that
            failed under its entry-point name is found by its module too.
    """

    name: str
    distribution: str
    error: str
    stage: str
    module: str = ""

    def summary(self) -> str:
        """``plugin 'x' failed to load (ImportError: ...)``: the first line of the error."""
        lines = self.error.strip().splitlines() or ["?"]
        first = lines[-1] if lines[0].startswith("Traceback") else lines[0]  # GANZOO_TRACE_PLUGINS keeps the traceback
        verb = "failed to load" if self.stage != "register" else "failed to register"
        return f"plugin {self.name!r} {verb} ({first})"


@dataclass(frozen=True)
class Conflict:
    """Two or more plugins registered one component name; none of their components is used.

    Attributes:
        kind: The component kind (``model``, ``loss``, ...).
        name: The component name.
        role: The model role (conflicts are per role for models), else ``None``.
        plugins: Every plugin that registered it, in registration order.
    """

    kind: str
    name: str
    role: str | None
    plugins: tuple[str, ...]

    def describe(self) -> str:
        what = f"{self.role} model" if self.role else self.kind
        names = sorted(self.plugins)
        who = ", ".join(repr(p) for p in names[:-1]) + f" and {names[-1]!r}"
        choices = " or ".join(f"GANZOO_DISABLE_PLUGINS={p}" for p in names)
        return f"{what} {self.name!r} is registered by plugins {who}, so none of them is used; uninstall one, or disable it with {choices}"


@dataclass(frozen=True)
class PluginInfo:
    """A loaded plugin."""

    name: str
    distribution: str
    version: str
    module: str


@dataclass
class PluginReport:
    """What discovery found; kept on the manager as ``pm.ganzoo_report``."""

    loaded: list[PluginInfo] = field(default_factory=list)
    failed: list[PluginFailure] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)

    def fail(self, failure: PluginFailure) -> None:
        """Record a failure once: the same plugin failing the same way again (a second registration) is not news."""
        key = (failure.name, failure.stage, failure.error)
        if any((f.name, f.stage, f.error) == key for f in self.failed):
            return
        self.failed.append(failure)
        # One process builds several managers (the CLI's command registration, then the command's
        # registries): trace each failure once per process, not once per manager.
        if os.environ.get(TRACE_ENV) and key not in _TRACED:
            _TRACED.add(key)
            print(f"ganzoo: plugin {failure.name!r} failed at {failure.stage}: {failure.error}", file=sys.stderr)  # noqa: T201 - opt-in tracing

    def failures_of(self, name: str) -> list[PluginFailure]:
        """The failures recorded for a plugin, by its name or its module's name."""
        return [f for f in self.failed if name in (f.name, f.module)]


_TRACED: set[tuple[str, str, str]] = set()


def _disabled_names() -> set[str]:
    raw = os.environ.get(DISABLE_ENV, "")
    return {n.strip() for n in raw.split(",") if n.strip()}


class GanzooPluginManager(pluggy.PluginManager):
    """pluggy's manager for the ``ganzoo`` project, with every hookspec added and the discovery report."""

    def __init__(self) -> None:
        super().__init__("ganzoo")
        for spec in SPEC_CLASSES:
            self.add_hookspecs(spec)
        self.ganzoo_report = PluginReport()
        self.ganzoo_failed_ids: set[int] = set()  # objects whose registration failed: not retried under another name


HOOK_NAMES = sorted(name for spec in SPEC_CLASSES for name in vars(spec) if name.startswith("ganzoo_"))


def _dist_of(ep: md.EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "?", "?"
    return dist.metadata["Name"] or "?", dist.version or "?"


def get_plugin_manager(*, entry_points: bool = True, extra: list[tuple[str, Any]] | None = None) -> GanzooPluginManager:
    """Build a fresh plugin manager (there is no module-global one).

    Args:
        entry_points: Discover plugins in the ``ganzoo`` entry-point group.
        extra: ``(name, module_or_object)`` pairs to register as well, for tests
            and for plugins that a user names explicitly.

    Returns:
        A :class:`GanzooPluginManager` (a ``pluggy.PluginManager``) whose ``ganzoo_report`` describes what loaded.
    """
    pm = GanzooPluginManager()
    report = pm.ganzoo_report
    disabled = _disabled_names()
    if entry_points:
        seen: dict[str, str] = {}
        for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist, version = _dist_of(ep)
            if ep.name in disabled:
                report.disabled.append(ep.name)
                continue
            if ep.name in seen:
                # pluggy would silently keep only the first of two same-named entry points.
                if seen[ep.name] == ep.value:
                    continue  # the same package seen twice on sys.path
                report.fail(PluginFailure(ep.name, dist, f"entry point name {ep.name!r} is also used by {seen[ep.name]!r}", "entry-point"))
                continue
            seen[ep.name] = ep.value
            try:
                obj = ep.load()
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: BLE001 - isolation is the point: sys.exit() at import included
                report.fail(PluginFailure(ep.name, dist, _short(exc), "import", ep.value))
                continue
            _register(pm, ep.name, obj, dist, version, report)
    for name, obj in extra or []:
        if name in disabled:
            report.disabled.append(name)
            continue
        _register(pm, name, obj, "<explicit>", "", report)
    return pm


def _register(pm: GanzooPluginManager, name: str, obj: Any, dist: str, version: str, report: PluginReport) -> None:
    module = getattr(obj, "__name__", type(obj).__name__)
    if pm.is_registered(obj) or id(obj) in pm.ganzoo_failed_ids:
        # The same module through an entry point and passed explicitly: keep the first registration,
        # and report a failed one once, under the name it first failed with.
        return
    registered = False
    try:
        pm.register(obj, name=name)
        registered = True
        # A misspelt hook name (ganzoo_model instead of ganzoo_models) fails here, loudly.
        unknown = [hc.name for hc in pm.get_hookcallers(obj) or [] if hc.spec is None]
        if unknown:
            raise pluggy.PluginValidationError(obj, "; ".join(_unknown_hook(h) for h in unknown))
        pm.check_pending()
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - a plugin that fails to register is reported, not fatal
        if registered:  # only undo what this call did; never another registration of the same object
            pm.unregister(obj)
        pm.ganzoo_failed_ids.add(id(obj))
        report.fail(PluginFailure(name, dist, _short(exc), "register", module))
        return
    report.loaded.append(PluginInfo(name, dist, version, module))


def _unknown_hook(name: str) -> str:
    """``unknown hook 'ganzoo_model' (did you mean 'ganzoo_models'?)``."""
    close = difflib.get_close_matches(name, HOOK_NAMES, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else f"; hooks are {', '.join(HOOK_NAMES)}"
    return f"unknown hook {name!r}{hint}"


def _short(exc: BaseException) -> str:
    if os.environ.get(TRACE_ENV):
        return "".join(traceback.format_exception(exc)).strip()
    return f"{type(exc).__name__}: {exc}"
