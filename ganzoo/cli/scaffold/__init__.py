"""``ganzoo plugin new``: a plugin package that installs, registers, tests and trains as generated.

The package registers its components (``--kind model|loss|dataset|metric|task``,
any combination) through a ``ganzoo`` entry point, exactly as the built-in
plugins do; its ``__init__`` states the plugin API it needs
(:func:`ganzoo.require_plugin_api`) and its tests use :mod:`ganzoo.testing`.
``tests/test_scaffold.py`` installs a package of every kind in a fresh virtual
environment and runs its tests and its spec, so the scaffold cannot rot
unnoticed. Each kind's templates are a module of this package.
"""

from __future__ import annotations

import importlib.util
import keyword
import re
import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path
from string import Template

from ganzoo.cli.scaffold import common, dataset, loss, metric, model, task
from ganzoo.cli.scaffold.kind import Kind
from ganzoo.errors import GanzooError

__all__ = ["KINDS", "ScaffoldError", "new_plugin", "plugin_names", "render"]

KINDS: dict[str, Kind] = {k.name: k for k in (model.KIND, loss.KIND, dataset.KIND, metric.KIND, task.KIND)}


class ScaffoldError(GanzooError, ValueError):
    """The plugin name, the kinds or the target directory are unusable."""


def plugin_names(name: str) -> dict[str, str]:
    """Package, distribution and component names for ``name`` (``my_gan``, ``my-gan`` or ``ganzoo_my_gan``).

    The conventions of docs/plugins.md: import package ``ganzoo_<name>``,
    distribution ``ganzoo-<name>``, components ``<name>`` with dashes.

    Raises:
        ScaffoldError: ``name`` cannot be a Python package name.
    """
    base = re.sub(r"^ganzoo[_-]", "", name.strip().lower()).replace("-", "_")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", base) or keyword.iskeyword(base) or base in ("ganzoo", "test", "tests"):
        raise ScaffoldError(f"{name!r} cannot name a plugin package: use letters, digits, '_' or '-', starting with a letter (e.g. my_gan)")
    package = f"ganzoo_{base}"
    return {"package": package, "dist": package.replace("_", "-"), "component": base.replace("_", "-")}


def _kinds(kinds: Iterable[str]) -> list[Kind]:
    wanted = list(dict.fromkeys(kinds)) or ["model"]
    unknown = [k for k in wanted if k not in KINDS]
    if unknown:
        raise ScaffoldError(f"unknown kind(s) {unknown}; choose from {', '.join(KINDS)}")
    return [KINDS[k] for k in KINDS if k in wanted]  # canonical order, whatever the order asked


def _summary(kinds: list[Kind]) -> str:
    parts = [k.summary for k in kinds]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def render(name: str, kinds: Iterable[str] = ("model",)) -> dict[str, str]:
    """The files of a new plugin: relative path -> text.

    Raises:
        ScaffoldError: Bad name or kind.
    """
    from ganzoo import PLUGIN_API, __version__

    chosen = _kinds(kinds)
    names = plugin_names(name)
    values = {**names, "ganzoo_version": __version__, "plugin_api": PLUGIN_API, "summary": _summary(chosen),
              "metric_key": names["component"].replace("-", "_")}
    values["summary_wrapped"] = textwrap.fill(f"Components, all named `{names['component']}`: {values['summary']}.", 110)

    def sub(text: str, **extra: str) -> str:
        return Template(text).substitute(values, **extra)

    by_hook = sorted(chosen, key=lambda k: k.hook)
    init = sub(common.INIT_HEAD, entries=", ".join(sorted(k.entry for k in chosen)),
               hooks=", ".join(f'"{k.hook}"' for k in by_hook))
    init += "".join(sub(common.HOOK, hook=k.hook, entry=k.entry, module=k.module[0], constant=k.module[1]) for k in by_hook)
    files = {"pyproject.toml": sub(common.PYPROJECT), "src/$package/__init__.py": init,
             "README.md": sub(common.README, kind_lines=sub("\n".join(k.readme for k in chosen))),
             "tests/conftest.py": sub(common.CONFTEST), "tests/test_$package.py": _tests(chosen, sub),
             "specs/$component.yaml": _spec(chosen, sub)}
    for k in chosen:
        files.update({rel: sub(text) for rel, text in k.files.items()})
    return {sub(rel): text for rel, text in files.items()}


def _imports(lines: Iterable[str]) -> str:
    """Import lines in the order ruff's isort wants: stdlib, third party, first party; ``from`` lines merged by module."""
    plain: dict[str, set[str]] = {}
    names: dict[str, set[str]] = {}
    for line in lines:
        words = line.replace(",", "").split()
        if words[0] == "import":
            plain.setdefault(words[1], set())
        else:
            names.setdefault(words[1], set()).update(words[3:])

    def section(module: str) -> int:
        top = module.split(".")[0]
        return 2 if top == "$package" else 1 if top in ("ganzoo", "torch", "pytest") else 0

    def by_type(name: str) -> tuple[int, str]:  # isort's order-by-type: CONSTANTS, Classes, functions
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    blocks = []
    for sec in range(3):
        block = [f"import {m}" for m in sorted(plain) if section(m) == sec]
        block += [f"from {m} import {', '.join(sorted(names[m], key=by_type))}" for m in sorted(names) if section(m) == sec]
        if block:
            blocks.append("\n".join(block))
    return "\n\n".join(blocks)


def _tests(chosen: list[Kind], sub: Callable[..., str]) -> str:
    imports = ["from ganzoo.testing import check_entry, check_plugin_loads, each_component, smoke_component", "import $package"]
    imports += [i for k in chosen for i in k.imports]
    checks = [line for k in chosen for line in k.checks]
    body = [("run_dir = " if checks else "") + "ganzoo_train_tiny(TINY)", *checks]
    fixtures = ["ganzoo_train_tiny"] + ["ganzoo_registries"] * any("ganzoo_registries" in c for c in checks)
    ids = [f"[{'generator' if k.name == 'model' else k.name}:$component]" for k in chosen][:1]
    text = sub(common.TESTS, imports=sub(_imports(imports)), ids=sub(", ".join(ids)), fixtures=", ".join(fixtures),
               tiny=sub("\n".join(f'    "{slot}": {text},' for k in chosen for slot, text in k.tiny.items())),
               checks=sub("".join(f"    {line}\n" for line in body)))
    return text.rstrip("\n") + "\n"


def _spec(chosen: list[Kind], sub: Callable[..., str]) -> str:
    slots = dict(common.SPEC_DEFAULTS)
    for k in chosen:
        slots.update(k.spec)
    placeholders = {"losses.adversarial": "adversarial", "eval.metrics": "metric"}
    return sub(common.SPEC, **{placeholders.get(slot, slot): sub(value) for slot, value in slots.items()})


def new_plugin(name: str, directory: str | Path | None = None, kinds: Iterable[str] = ("model",)) -> Path:
    """Write a plugin package for ``name`` with components of ``kinds``; returns its directory (default ``./ganzoo-NAME``).

    Raises:
        ScaffoldError: Bad name or kind, a module of that name is already importable,
            or the directory exists and is not empty. Nothing is written then.
    """
    files = render(name, kinds)
    names = plugin_names(name)
    if importlib.util.find_spec(names["package"]) is not None:
        raise ScaffoldError(f"a module named {names['package']} is already installed; choose another name (nothing was written)")
    root = Path(directory) if directory is not None else Path(names["dist"])
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ScaffoldError(f"{root} exists and is not empty; choose another directory (nothing was written)")
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root
