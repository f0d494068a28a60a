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
from ganzoo.plugin.manager import GanzooPluginManager, PluginFailure, PluginReport, get_plugin_manager

_HOOKS = {
    "model": "ganzoo_models",
    "loss": "ganzoo_losses",
    "dataset": "ganzoo_datasets",
    "metric": "ganzoo_metrics",
    "task": "ganzoo_tasks",
}

KIND_ALIASES = {
    "models": "model",
    "losses": "loss",
    "datasets": "dataset",
    "data": "dataset",
    "metrics": "metric",
    "tasks": "task",
}


class RegistryError(PluginError):
    """A registry cannot be built (name conflicts) or a lookup failed."""


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
    """Entries of one kind, keyed by name (by role and name for models)."""

    kind: str
    entries: dict[str, Entry] = field(default_factory=dict)

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
        raise UnknownComponentError(f"unknown {what} {name!r}.{suggest(name, self.names(role))}")


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

    A hook implementation that raises is reported as a failed plugin and its
    records are dropped; two plugins claiming one name raise :class:`RegistryError`.
    """
    report = pm.ganzoo_report
    by_kind = {kind: Registry(kind) for kind in KINDS}
    conflicts: list[str] = []
    for kind, hook_name in _HOOKS.items():
        hook = getattr(pm.hook, hook_name)
        for impl in hook.get_hookimpls():
            try:
                records = list(impl.function() or [])
                for rec in records:
                    if not isinstance(rec, KINDS[kind]):
                        raise TypeError(f"{hook_name} returned {type(rec).__name__}, expected {KINDS[kind].__name__}")
            except Exception as exc:  # noqa: BLE001 - one broken plugin must not break the rest
                report.fail(PluginFailure(impl.plugin_name, "?", f"{hook_name}: {type(exc).__name__}: {exc}", "register"))
                continue
            reg = by_kind[kind]
            for rec in records:
                rec = dataclasses.replace(rec, plugin=impl.plugin_name)
                key = _key(rec)
                if key in reg.entries:
                    other = reg.entries[key].plugin
                    conflicts.append(f"{kind} {key!r} is registered by both plugin {other!r} and plugin {rec.plugin!r}")
                    continue
                reg.entries[key] = rec
    if conflicts:
        raise RegistryError(
            "component name conflicts:\n  " + "\n  ".join(conflicts)
            + "\nUninstall one of the plugins or disable it with GANZOO_DISABLE_PLUGINS=name."
        )
    return Registries(pm, by_kind)


def load_registries(pm: GanzooPluginManager | None = None) -> Registries:
    """Discover plugins (unless ``pm`` is given) and return the filled registries."""
    return collect(pm if pm is not None else get_plugin_manager())
