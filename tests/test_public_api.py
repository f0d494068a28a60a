"""Plugins import only ganzoo's public API, and the core never imports a plugin."""

from __future__ import annotations

import ast
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
