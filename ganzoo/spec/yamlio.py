"""Safe YAML loading with line numbers for error messages.

PyYAML follows YAML 1.1, where ``1e-4`` (no dot) is a *string*; specs are
written by people who expect a float, so the float resolver is widened.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

__all__ = ["SpecLoader", "load_yaml", "dump_yaml", "line_map", "parse_value"]


class SpecLoader(yaml.SafeLoader):
    """``SafeLoader`` that also reads ``1e-4`` and ``3E5`` as floats."""


SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def load_yaml(text: str) -> Any:
    """Parse YAML text safely (no Python object tags)."""
    return yaml.load(text, Loader=SpecLoader)  # noqa: S506 - SpecLoader is a SafeLoader


def parse_value(text: str) -> Any:
    """Parse one ``--set`` value the way it would read inside the YAML file."""
    if text == "":
        return ""
    return load_yaml(text)


def line_map(text: str) -> dict[tuple[str | int, ...], int]:
    """Map each key path in a YAML document to its 1-based line number."""
    out: dict[tuple[str | int, ...], int] = {}
    try:
        root = yaml.compose(text, Loader=SpecLoader)
    except yaml.YAMLError:
        return out

    def walk(node: yaml.Node, path: tuple[str | int, ...]) -> None:
        out.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                k = key.value if isinstance(key, yaml.ScalarNode) else str(key)
                child = (*path, k)
                out[child] = key.start_mark.line + 1
                walk(value, child)
                out[child] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    if root is not None:
        walk(root, ())
    return out


def dump_yaml(data: Any, path: Path | None = None, *, header: str = "") -> str:
    """Dump plain data as block-style YAML (keys in the given order)."""
    text = header + yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
    if path is not None:
        path.write_text(text)
    return text
