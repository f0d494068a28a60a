"""Plugin discovery: entry points, isolation of broken plugins, blocking and tracing.

Built-in plugins are found exactly like third-party ones, through the ``ganzoo``
entry-point group. A plugin that fails to import is recorded and skipped so that
one broken package never takes the whole zoo down.
"""

from __future__ import annotations

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
    """A plugin that could not be loaded or registered."""

    name: str
    distribution: str
    error: str
    stage: str  # "import", "register" or "entry-point"


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

    def fail(self, failure: PluginFailure) -> None:
        self.failed.append(failure)
        if os.environ.get(TRACE_ENV):
            print(f"ganzoo: plugin {failure.name!r} failed at {failure.stage}: {failure.error}", file=sys.stderr)  # noqa: T201 - opt-in tracing


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
            except Exception as exc:  # noqa: BLE001 - isolation is the point
                report.fail(PluginFailure(ep.name, dist, _short(exc), "import"))
                continue
            _register(pm, ep.name, obj, dist, version, report)
    for name, obj in extra or []:
        if name in disabled:
            report.disabled.append(name)
            continue
        _register(pm, name, obj, "<explicit>", "", report)
    return pm


def _register(pm: pluggy.PluginManager, name: str, obj: Any, dist: str, version: str, report: PluginReport) -> None:
    if pm.is_registered(obj):
        # The same module through an entry point and passed explicitly: keep the first registration.
        return
    registered = False
    try:
        pm.register(obj, name=name)
        registered = True
        # A misspelt hook name (ganzoo_model instead of ganzoo_models) fails here, loudly.
        pm.check_pending()
    except Exception as exc:  # noqa: BLE001 - a plugin that fails to register is reported, not fatal
        if registered:  # only undo what this call did; never another registration of the same object
            pm.unregister(obj)
        report.fail(PluginFailure(name, dist, _short(exc), "register"))
        return
    module = getattr(obj, "__name__", type(obj).__name__)
    report.loaded.append(PluginInfo(name, dist, version, module))


def _short(exc: BaseException) -> str:
    if os.environ.get(TRACE_ENV):
        return "".join(traceback.format_exception(exc)).strip()
    return f"{type(exc).__name__}: {exc}"
