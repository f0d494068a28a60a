"""The hook and protocol reference of docs/plugins.md, generated from the code so that it cannot drift.

Every hook comes from :mod:`ganzoo.plugin.hookspecs` (its arguments from the
signature, what they mean from the docstring's ``Args:``, when it fires from
the docstring, an ``Example:``); every protocol member from the protocol
classes (attributes from the class docstring's ``Attributes:``, methods from
their signatures and docstrings, duck-typed extras from ``Optional:``). An
undocumented argument or member, or a documented one that no longer exists, is
an error here, and ``tests/test_plugin_reference.py`` regenerates the block and
compares it with the docs.

Regenerate after changing a hookspec or a protocol::

    python -m ganzoo.plugin.reference            # rewrites the block in docs/plugins.md
    python -m ganzoo.plugin.reference --check    # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["BEGIN", "END", "PROTOCOLS", "ReferenceDrift", "members", "render", "sync"]

BEGIN = "<!-- BEGIN generated reference: python -m ganzoo.plugin.reference; edit the docstrings, not this block -->"
END = "<!-- END generated reference -->"

# (public name, "module:attribute"): the contracts a component implements, in the order a plugin author meets them.
PROTOCOLS: tuple[tuple[str, str], ...] = (
    ("ganzoo.LatentGenerator", "ganzoo.task:LatentGenerator"),
    ("ganzoo.TruncatableGenerator", "ganzoo.task:TruncatableGenerator"),
    ("ganzoo.MappedGenerator", "ganzoo.task:MappedGenerator"),
    ("ganzoo.AdversarialLoss", "ganzoo.losses:AdversarialLoss"),
    ("ganzoo.Regularizer", "ganzoo.losses:Regularizer"),
    ("ganzoo.ReconstructionLoss", "ganzoo.losses:ReconstructionLoss"),
    ("ganzoo.ImageDataset", "ganzoo.data:ImageDataset"),
    ("ganzoo.evaluation.Metric", "ganzoo.evaluation:Metric"),
    ("ganzoo.Task", "ganzoo.task:Task"),
)
_DUNDERS = ("__call__", "__len__", "__getitem__")
_SECTION = re.compile(r"^(Args|Attributes|Optional|Returns|Raises|Example):\s*$")
_ENTRY = re.compile(r"^(\w+)(?: \([^)]*\))?:\s*(.*)$")


class ReferenceDrift(AssertionError):
    """The code and its docstrings disagree (an undocumented argument or member, or a stale one).

    A failed check for ganzoo's developers (raised in its tests and by this module's command), not a user's error.
    """


def _load(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _md(text: str) -> str:
    """reST roles and literals -> Markdown code spans."""
    text = re.sub(r":(?:class|meth|func|mod|data|attr):`~?([^`]+)`", r"``\1``", text)
    return text.replace("``", "`")


def _sections(doc: str | None) -> tuple[str, dict[str, str]]:
    """A docstring's prose and its Google-style sections (dedented bodies) by title."""
    lines = inspect.cleandoc(doc or "").splitlines()
    prose: list[str] = []
    sections: dict[str, list[str]] = {}
    current = prose
    for line in lines:
        m = _SECTION.match(line)
        if m:
            current = sections.setdefault(m.group(1), [])
        else:
            current.append(line)
    return "\n".join(prose).strip(), {k: inspect.cleandoc("\n".join(v)) for k, v in sections.items()}


def _entries(body: str) -> dict[str, str]:
    """``name: text`` entries of an Args/Attributes/Optional section, continuation lines joined."""
    out: dict[str, str] = {}
    name = ""
    for line in body.splitlines():
        m = _ENTRY.match(line)
        if m and not line.startswith(" "):
            name = m.group(1)
            out[name] = m.group(2)
        elif name and line.strip():
            out[name] += " " + line.strip()
    return out


def _first_paragraph(doc: str | None) -> str:
    return " ".join(_sections(doc)[0].split("\n\n")[0].split())


def _signature(name: str, fn: Callable[..., Any], *, self_arg: bool = True) -> str:
    params = list(inspect.signature(fn).parameters.values())[1 if self_arg else 0 :]
    parts: list[str] = []
    star = False
    for p in params:
        if p.kind is p.KEYWORD_ONLY and not star:
            parts.append("*")
            star = True
        if p.kind is p.VAR_POSITIONAL:
            parts.append(f"*{p.name}")
            star = True
        elif p.kind is p.VAR_KEYWORD:
            parts.append(f"**{p.name}")
        else:
            parts.append(p.name if p.default is p.empty else f"{p.name}={p.default!r}")
    ret = inspect.signature(fn).return_annotation
    return f"{name}({', '.join(parts)})" + ("" if ret is inspect.Signature.empty else f" -> {ret}")


def members(cls: type) -> list[tuple[str, str, str, str]]:
    """``(name, signature or type, required/optional, description)`` for every member a component may define.

    Raises:
        ReferenceDrift: A member without a description, or a documented member that does not exist.
    """
    _, sections = _sections(cls.__doc__)
    documented, optional = _entries(sections.get("Attributes", "")), _entries(sections.get("Optional", ""))
    protocol = bool(getattr(cls, "_is_protocol", False))
    own = vars(cls)
    rows: list[tuple[str, str, str, str]] = []
    annotations = inspect.get_annotations(cls)
    for name, kind in annotations.items():
        if name.startswith("_"):
            continue
        if name not in documented:
            raise ReferenceDrift(f"{cls.__qualname__}.{name} has no entry in the class docstring's Attributes: section")
        default = "required" if protocol or name not in own else f"optional, default `{own[name]!r}`"
        rows.append((name, str(kind), default, documented[name]))
    for name, fn in own.items():
        if not inspect.isfunction(fn) or (name.startswith("_") and name not in _DUNDERS):
            continue
        what = _first_paragraph(fn.__doc__)
        if not what:
            raise ReferenceDrift(f"{cls.__qualname__}.{name} has no docstring")
        abstract = getattr(fn, "__isabstractmethod__", False) or "NotImplementedError" in inspect.getsource(fn)
        rows.append((name, _signature(name, fn), "required" if protocol or abstract else "optional, has a default", what))
    stale = (set(documented) - set(annotations)) | (set(optional) & {r[0] for r in rows})
    if stale:
        raise ReferenceDrift(f"{cls.__qualname__}'s docstring documents {sorted(stale)}, which it does not declare (or declares twice)")
    rows += [(name, "", "optional (read if present)", text) for name, text in optional.items()]
    return rows


def _cell(text: str) -> str:
    return _md(text).replace("|", "\\|")


def _hooks() -> list[str]:
    from ganzoo.plugin.hookspecs import SPEC_CLASSES

    out = ["## Hook reference", "",
           "This section and the protocol reference after it are generated from `ganzoo/plugin/hookspecs.py` and the",
           "protocol classes (`python -m ganzoo.plugin.reference`); `tests/test_plugin_reference.py` fails when they",
           "differ from the code.", "",
           "A plugin implements any of these hooks as module-level functions marked `@ganzoo.hookimpl` (pluggy ignores",
           "an unmarked one; `ganzoo.testing.check_plugin_loads` reports it). An implementation may take fewer",
           "arguments than listed, never others.", ""]
    for spec in SPEC_CLASSES:
        title = spec.__name__.removesuffix("Specs")
        prose, _ = _sections(spec.__doc__)
        out += [f"### {title} hooks", "", _md(prose), ""]
        for name, fn in vars(spec).items():
            if not name.startswith("ganzoo_"):
                continue
            prose, sections = _sections(fn.__doc__)
            args, params = _entries(sections.get("Args", "")), list(inspect.signature(fn).parameters)[1:]
            if set(args) != set(params):
                raise ReferenceDrift(f"{name}: the docstring's Args: {sorted(args)} differ from the arguments {params}")
            if "Example" not in sections:
                raise ReferenceDrift(f"{name}: the docstring has no Example: section")
            out += [f"#### `{_signature(name, fn).split(' -> ')[0]}`", "", _md(prose), ""]
            if params:
                annotations = inspect.get_annotations(fn)
                out += ["| argument | type | what it is |", "| --- | --- | --- |"]
                out += [f"| `{p}` | `{annotations.get(p, '')}` | {_cell(args[p])} |" for p in params]
                out.append("")
            ret = inspect.signature(fn).return_annotation
            out += [f"Returns `{ret}`" + ("." if ret != "None" else " (a returned value is ignored)."), ""]
            out += ["```python", sections["Example"], "```", ""]
    return out


def _protocols() -> list[str]:
    out = ["## Protocol reference", "",
           "What a component defines, by kind. `required` members must be there; optional ones have a default (base",
           "classes) or are read with `getattr` when present (duck-typed extras).", ""]
    for public, path in PROTOCOLS:
        cls = _load(path)
        prose, _ = _sections(cls.__doc__)
        out += [f"### `{public}`", "", _md(prose), "", "| member | signature / type | required | what it is |", "| --- | --- | --- | --- |"]
        out += [f"| `{n}` | {f'`{_cell(s)}`' if s else ''} | {req} | {_cell(what)} |" for n, s, req, what in members(cls)]
        out.append("")
    return out


def render() -> str:
    """The generated block, markers included."""
    body = "\n".join(_hooks() + _protocols()).rstrip()
    return f"{BEGIN}\n\n{body}\n\n{END}"


def sync(path: Path, *, check: bool = False) -> bool:
    """Replace the block between the markers in ``path`` by :func:`render`; return whether it was up to date.

    Args:
        path: The Markdown file (docs/plugins.md).
        check: Only compare, do not write.

    Raises:
        ReferenceDrift: ``path`` lacks the markers.
    """
    text = path.read_text()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ReferenceDrift(f"{path} has no {BEGIN!r} ... {END!r} block")
    new = text[:start] + render() + text[end + len(END) :]
    if new != text and not check:
        path.write_text(new)
    return new == text


def main(argv: list[str] | None = None) -> int:
    """``python -m ganzoo.plugin.reference [--check] [FILE]``."""
    parser = argparse.ArgumentParser(prog="python -m ganzoo.plugin.reference", description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=Path(__file__).resolve().parents[2] / "docs" / "plugins.md")
    parser.add_argument("--check", action="store_true", help="exit 1 if the block is stale, write nothing")
    args = parser.parse_args(argv)
    fresh = sync(args.file, check=args.check)
    if args.check and not fresh:
        print(f"{args.file}: the reference is stale; run python -m ganzoo.plugin.reference", file=sys.stderr)  # noqa: T201 - a CLI
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
