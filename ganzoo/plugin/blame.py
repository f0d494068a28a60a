"""Which plugin's code a traceback ran through: source files mapped to the plugins that own them.

A run that fails inside plugin code names the plugin and the innermost line of
it (``ganzoo_dcgan/nets.py:57``), not the torch internals the exception was
raised from. A plugin owns its module (a whole package when it is one) and the
modules its registered components' builders live in.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from types import FrameType, ModuleType, TracebackType
from typing import Any

__all__ = ["PluginFrame", "PluginFiles", "plugin_files"]


@dataclass(frozen=True)
class PluginFrame:
    """The innermost traceback frame in a plugin's code.

    Attributes:
        plugin: The plugin's name.
        location: ``file:line``, the file relative to the package's parent (``ganzoo_dcgan/nets.py:57``).
        frame: The frame itself.
    """

    plugin: str
    location: str
    frame: FrameType


def _root_of(module: ModuleType | None) -> str | None:
    """A module's file, or its package's folder (with a trailing separator) for a package's ``__init__``."""
    file = getattr(module, "__file__", None)
    if not file:
        return None
    path = os.path.abspath(file)
    return os.path.dirname(path) + os.sep if os.path.basename(path) == "__init__.py" else path


class PluginFiles:
    """Source files (and package folders) by the plugin that owns them.

    Args:
        owners: ``(module, plugin name)`` pairs; a package's ``__init__`` stands for the whole package.
    """

    def __init__(self, owners: Iterable[tuple[ModuleType | None, str]]) -> None:
        roots: dict[str, str] = {}
        for module, plugin in owners:
            root = _root_of(module)
            if root is not None and plugin:
                roots.setdefault(root, plugin)
        # The most specific root first: a plugin inside another's folder is its own.
        self.roots = sorted(roots.items(), key=lambda item: -len(item[0]))

    def owner(self, filename: str) -> tuple[str, str] | None:
        """``(plugin, path relative to the root's parent)`` for a source file, or None when no plugin owns it."""
        path = os.path.abspath(filename)
        for root, plugin in self.roots:
            if path == root or (root.endswith(os.sep) and path.startswith(root)):
                base = os.path.dirname(root.rstrip(os.sep))
                return plugin, os.path.relpath(path, base)
        return None

    def innermost(self, tb: TracebackType | None) -> PluginFrame | None:
        """The innermost frame of ``tb`` in a plugin's code, or None."""
        found = None
        for frame, line in traceback.walk_tb(tb):
            owned = self.owner(frame.f_code.co_filename)
            if owned is not None:
                found = PluginFrame(owned[0], f"{owned[1]}:{line}", frame)
        return found


def plugin_files(pm: Any, entries: Iterable[Any] = ()) -> PluginFiles:
    """The files of every plugin registered with ``pm`` and of the builders of ``entries``.

    Args:
        pm: The plugin manager (its registered plugins are modules or objects).
        entries: Registered entries (``ganzoo.Entry``); each builder's module belongs to ``entry.plugin``.
    """
    owners: list[tuple[ModuleType | None, str]] = []
    for name, obj in pm.list_name_plugin():
        if obj is None:  # blocked
            continue
        module = obj if isinstance(obj, ModuleType) else sys.modules.get(type(obj).__module__)
        owners.append((module, name))
    for entry in entries:
        owners.append((sys.modules.get(getattr(entry.build, "__module__", "") or ""), entry.plugin))
    return PluginFiles(owners)
