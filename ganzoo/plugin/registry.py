"""Registries: one per component kind, filled from the plugins' registration hooks."""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ganzoo.errors import PluginError
from ganzoo.plugin.entries import KINDS, Entry, ModelEntry
from ganzoo.plugin.manager import Conflict, GanzooPluginManager, PluginFailure, PluginReport, get_plugin_manager

_HOOKS = {
    "model": "ganzoo_models",
    "loss": "ganzoo_losses",
    "dataset": "ganzoo_datasets",
    "metric": "ganzoo_metrics",
    "task": "ganzoo_tasks",
    "launcher": "ganzoo_launchers",
}

KIND_ALIASES = {
    "models": "model",
    "losses": "loss",
    "datasets": "dataset",
    "data": "dataset",
    "metrics": "metric",
    "tasks": "task",
    "launchers": "launcher",
}


class RegistryError(PluginError):
    """A registry lookup failed (an unknown kind, a model name that several roles share)."""


class UnknownComponentError(RegistryError, KeyError):
    """No component of that kind has that name."""

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0])


def suggest(name: str, choices: list[str]) -> str:
    """Return a ``did you mean`` fragment, or an empty string."""
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"


def _key(entry: Entry) -> str:
    # Generators and discriminators of one family share a name ("dcgan").
    return f"{entry.role}:{entry.name}" if isinstance(entry, ModelEntry) else entry.name


@dataclass
class Registry:
    """Entries of one kind, keyed by name (by role and name for models).

    Attributes:
        kind: The component kind.
        entries: Registered entries by key (``role:name`` for models).
        conflicts: Keys that several plugins registered; none of those entries is used.
        failures: The plugins that failed to load or register (shared by every kind):
            any of them may have provided a name that is missing.
    """

    kind: str
    entries: dict[str, Entry] = field(default_factory=dict)
    conflicts: dict[str, Conflict] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)

    def __iter__(self) -> Iterator[Entry]:
        return iter(sorted(self.entries.values(), key=lambda e: (_key(e))))

    def __len__(self) -> int:
        return len(self.entries)

    def names(self, role: str | None = None) -> list[str]:
        return sorted({e.name for e in self if role is None or getattr(e, "role", None) == role})

    def get(self, name: str, role: str | None = None) -> Entry:
        """Look up an entry; unknown names raise with a suggestion."""
        key = f"{role}:{name}" if self.kind == "model" and role else name
        if key in self.entries:
            return self.entries[key]
        if self.kind == "model" and role is None:
            matches = [e for e in self.entries.values() if e.name == name]
            if len(matches) == 1:
                return matches[0]
            if matches:
                roles = [m.role for m in matches if isinstance(m, ModelEntry)]
                raise RegistryError(f"model {name!r} exists for several roles; name one of {roles}")
        what = f"{role} model" if role else self.kind
        near = "" if self.conflict(name, role) else suggest(name, self.names(role))  # the name is right, only disabled
        raise UnknownComponentError(f"unknown {what} {name!r}{self.why_missing(name, role)}.{near}")

    def conflict(self, name: str, role: str | None = None) -> Conflict | None:
        """The conflict that disabled ``name`` (for ``role``, or any role), if several plugins registered it."""
        if self.kind == "model" and role:
            return self.conflicts.get(f"{role}:{name}")
        return next((c for c in self.conflicts.values() if c.name == name), None)

    def why_missing(self, name: str, role: str | None = None) -> str:
        """Why ``name`` may be missing, as a ``: ...`` fragment for an "unknown" message; empty if nothing explains it.

        A name that several plugins registered is disabled; otherwise a plugin
        that failed to load may be the one that provides it.
        """
        conflict = self.conflict(name, role)
        if conflict is not None:
            return f": {conflict.describe()}"
        if not self.failures:
            return ""
        return ": " + "; ".join(f.summary() for f in self.failures) + "; see 'ganzoo plugins'"


@dataclass
class Registries:
    """All registries plus the plugin manager and discovery report they came from."""

    pm: GanzooPluginManager
    by_kind: dict[str, Registry]

    @property
    def report(self) -> PluginReport:
        return self.pm.ganzoo_report

    def __getitem__(self, kind: str) -> Registry:
        kind = KIND_ALIASES.get(kind, kind)
        if kind not in self.by_kind:
            raise RegistryError(f"unknown component kind {kind!r}; kinds are {sorted(self.by_kind)}")
        return self.by_kind[kind]

    def all_entries(self) -> Iterator[Entry]:
        for reg in self.by_kind.values():
            yield from reg

    def fingerprint(self) -> str:
        """Hash of every entry's identity and parameter schema (keys the spec-model cache)."""
        h = hashlib.sha256()
        for e in self.all_entries():
            # id(): two classes with one qualified name (a factory, a reloaded module) are different models.
            h.update(f"{e.kind}|{_key(e)}|{e.plugin}|{e.params.__module__}.{e.params.__qualname__}|{id(e.params)}\n".encode())
        return h.hexdigest()[:16]

    def build(self, kind: str, name: str, params: Any = None, *args: Any, role: str | None = None, **kwargs: Any) -> Any:
        """Validate ``params`` (a dict or model instance) and call the entry's builder."""
        entry = self[kind].get(name, role)
        if not isinstance(params, entry.params):
            params = entry.params.model_validate(params or {})
        return entry.build(params, *args, **kwargs)


def collect(pm: GanzooPluginManager) -> Registries:
    """Call every plugin's registration hooks one by one and build the registries.

    A hook implementation that raises (``sys.exit`` included) is reported as a
    failed plugin and its records are dropped. A name that two plugins register
    (per kind; per role for models) is disabled for both, recorded in
    ``report.conflicts``, and explained when a spec or lookup names it: one
    conflict must not stop every command.
    """
    report = pm.ganzoo_report
    report.conflicts.clear()  # collect() may run twice on one manager
    by_kind = {kind: Registry(kind, failures=report.failed) for kind in KINDS}
    dists = {p.name: p.distribution for p in report.loaded}
    for kind, hook_name in _HOOKS.items():
        hook = getattr(pm.hook, hook_name)
        for impl in hook.get_hookimpls():
            try:
                records = list(impl.function() or [])
                for rec in records:
                    if not isinstance(rec, KINDS[kind]):
                        raise TypeError(f"{hook_name} returned {type(rec).__name__}, expected {KINDS[kind].__name__}")
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: BLE001 - one broken plugin (sys.exit included) must not break the rest
                failure = f"{hook_name}: {type(exc).__name__}: {exc}"
                report.fail(PluginFailure(impl.plugin_name, dists.get(impl.plugin_name, "?"), failure, "register"))
                continue
            reg = by_kind[kind]
            for rec in records:
                _add(reg, dataclasses.replace(rec, plugin=impl.plugin_name))
    for reg in by_kind.values():
        report.conflicts.extend(reg.conflicts.values())
    return Registries(pm, by_kind)


def _add(reg: Registry, rec: Entry) -> None:
    """Add ``rec``; a key another plugin registered too is disabled for both (the second claimant does not win silently)."""
    key = _key(rec)
    if key in reg.conflicts:
        old = reg.conflicts[key]
        if rec.plugin not in old.plugins:
            reg.conflicts[key] = dataclasses.replace(old, plugins=(*old.plugins, rec.plugin))
        return
    other = reg.entries.get(key)
    if other is None:
        reg.entries[key] = rec
    elif other.plugin != rec.plugin:
        del reg.entries[key]
        role = rec.role if isinstance(rec, ModelEntry) else None
        reg.conflicts[key] = Conflict(reg.kind, rec.name, role, (other.plugin, rec.plugin))
    else:
        reg.entries[key] = rec  # one plugin returning a name twice: the later record, as before


def load_registries(pm: GanzooPluginManager | None = None) -> Registries:
    """Discover plugins (unless ``pm`` is given) and return the filled registries."""
    return collect(pm if pm is not None else get_plugin_manager())
