"""Plugins import only ganzoo's public API, and the core never imports a plugin."""

from __future__ import annotations

import ast
import importlib
import os
import sys
from pathlib import Path

import pytest

import ganzoo

REPO = Path(__file__).resolve().parents[1]
PLUGIN_DIRS = sorted(p for p in (REPO / "plugins").iterdir() if (p / "__init__.py").is_file())
PLUGIN_NAMES = {p.name for p in PLUGIN_DIRS}


def _imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out.extend((node.lineno, a.name) for a in node.names)
    return out


@pytest.mark.parametrize("plugin", PLUGIN_DIRS, ids=lambda p: p.name)
def test_plugins_import_only_the_public_api(plugin):
    allowed = {"ganzoo", *ganzoo.PUBLIC_MODULES}
    bad = [
        f"{f.relative_to(REPO)}:{line}: {mod}"
        for f in sorted(plugin.rglob("*.py"))
        for line, mod in _imports(f)
        if (mod == "ganzoo" or mod.startswith("ganzoo.")) and mod not in allowed and not mod.startswith(tuple(m + "." for m in allowed - {"ganzoo"}))
    ]
    assert not bad, "plugins may import only `ganzoo` and ganzoo.PUBLIC_MODULES:\n" + "\n".join(bad)


def test_core_never_imports_a_plugin():
    bad = [
        f"{f.relative_to(REPO)}:{line}: {mod}"
        for f in sorted((REPO / "ganzoo").rglob("*.py"))
        for line, mod in _imports(f)
        if mod.split(".")[0] in PLUGIN_NAMES
    ]
    assert not bad, "the core must not import plugins:\n" + "\n".join(bad)


def test_every_lazy_name_resolves():
    for name in ganzoo.__all__:
        assert getattr(ganzoo, name) is not None, name


# ---------------------------------------------------------------- import hygiene


def _core_modules() -> dict[str, Path]:
    mods = {}
    for f in sorted((REPO / "ganzoo").rglob("*.py")):
        parts = f.relative_to(REPO).with_suffix("").parts
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return mods


def _runtime_imports(path: Path, mods: dict[str, Path]) -> set[tuple[str, bool]]:
    """``(module, takes_names)`` for each ganzoo module ``path`` imports when it is imported.

    Imports inside functions and under ``if TYPE_CHECKING`` do not count.
    ``takes_names`` is True when names other than submodules are taken from it.
    """
    found: set[tuple[str, bool]] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If):
                if "TYPE_CHECKING" not in ast.unparse(node.test):
                    visit(node.body + node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body])
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add((node.module, any(f"{node.module}.{a.name}" not in mods for a in node.names)))
                found.update((f"{node.module}.{a.name}", False) for a in node.names if f"{node.module}.{a.name}" in mods)
            elif isinstance(node, ast.Import):
                found.update((a.name, False) for a in node.names)

    visit(ast.parse(path.read_text()).body)
    return {(m, names) for m, names in found if m in mods}


def test_no_module_level_import_cycle() -> None:
    """Module-level imports between core modules form no cycle.

    An edge to one's own parent package is left out: Python initialises a
    package before its submodules, which is no cycle as long as the submodule
    does not take names from the half-initialised parent (the edge below does).
    """
    mods = _core_modules()
    graph = {m: {d for d, names in _runtime_imports(f, mods) if d != m and (names or not m.startswith(d + "."))} for m, f in mods.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def dfs(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                dfs(nxt, stack)
        stack.pop()
        state[node] = 2

    for m in sorted(graph):
        if m not in state:
            dfs(m, [])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_every_module_imports_on_its_own() -> None:
    """``python -c "import ganzoo.X"`` works for every module X, each first in a fresh interpreter.

    A fork server keeps it fast: the parent loads only third-party libraries
    (torch, pydantic, ...), never a ganzoo module, and each child imports one
    module first, as a fresh interpreter would.
    """
    import torch  # noqa: F401  - preloaded third-party libraries; ganzoo itself must not be
    import click, pydantic, pluggy, yaml  # noqa: E401, F401

    failures = []
    for name in _core_modules():
        pid = os.fork()
        if pid == 0:  # the child: drop every ganzoo module the test process holds, import one, report by exit status
            for m in [m for m in sys.modules if m == "ganzoo" or m.startswith("ganzoo.")]:
                del sys.modules[m]
            code = 0
            try:
                importlib.import_module(name)
            except BaseException as exc:  # noqa: BLE001 - any failure is the finding
                sys.stderr.write(f"{name}: {type(exc).__name__}: {exc}\n")
                code = 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            failures.append(name)
    assert not failures, f"modules that fail to import first: {failures}"
