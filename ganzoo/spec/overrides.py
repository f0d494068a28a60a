"""``--set KEY=VALUE`` overrides and sweep ``set:`` mappings applied to plain spec data.

Values are parsed as YAML, exactly as they would read inside the spec file.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from ganzoo.spec.errors import SpecError, SpecIssue
from ganzoo.spec.yamlio import parse_value

__all__ = ["apply_overrides", "parse_overrides", "set_values"]


def _set_path(data: Any, key: str, value: Any) -> str | None:
    """Set dotted ``key`` in plain ``data`` (creating mappings on the way); an error message or None."""
    parts = key.strip().split(".")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                return f"{'.'.join(parts[:i])} has no item {part}"
            node = node[int(part)]
            continue
        if not isinstance(node, dict):
            return f"{'.'.join(parts[:i])} is a {type(node).__name__}, not a mapping"
        if node.get(part) is None:
            node[part] = [] if nxt.isdigit() else {}
        node = node[part]
    last = parts[-1]
    if isinstance(node, list) and last.isdigit() and int(last) < len(node):
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        return f"{'.'.join(parts[:-1])} is a {type(node).__name__}, not a mapping"
    return None


def set_values(data: dict[str, Any], values: dict[str, Any], *, origin: str = "--set") -> dict[str, Any]:
    """Apply ``{"dotted.key": value}`` to a copy of plain spec data (sweep variants use this).

    Raises:
        SpecError: A path runs through something that is not a mapping or list.
    """
    data = copy.deepcopy(data)  # not a JSON round trip: YAML dates are not JSON, and the caller's data stays as it was
    issues = [SpecIssue(f"{origin} {key}", err) for key, value in values.items() if (err := _set_path(data, key, value))]
    if issues:
        raise SpecError(issues, "overrides")
    return data


def parse_overrides(overrides: list[str]) -> dict[str, Any]:
    """``["a.b=1", ...]`` -> ``{"a.b": 1}`` with values parsed as YAML.

    Raises:
        SpecError: An item is not ``KEY=VALUE`` or its value is not valid YAML.
    """
    values: dict[str, Any] = {}
    issues: list[SpecIssue] = []
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            issues.append(SpecIssue(f"--set {item}", "expected KEY=VALUE, for example --set train.steps=100"))
            continue
        try:
            values[key.strip()] = parse_value(raw)
        except yaml.YAMLError as exc:
            issues.append(SpecIssue(f"--set {key}", f"value is not valid YAML: {exc}"))
        except (ValueError, TypeError, RecursionError) as exc:  # an impossible date, nesting too deep
            issues.append(SpecIssue(f"--set {key}", f"value is not valid YAML: {exc}"))
    if issues:
        raise SpecError(issues, "overrides")
    return values


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` strings to a plain spec dict (values parsed as YAML)."""
    return set_values(data, parse_overrides(overrides))
