"""Spec errors: pydantic's validation errors turned into path-qualified issues.

Each issue names the dotted path (with the component type when inside one),
the YAML line where known, and a "did you mean" for unknown names and keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from ganzoo.errors import GanzooError
from ganzoo.plugin.registry import suggest

__all__ = ["Explain", "SpecError", "SpecIssue", "issues_from", "locate"]

# (unknown name, its spec path) -> why it may be missing, as ": ..." or "" (see Registry.why_missing).
Explain = Callable[[str, list[str | int]], str]


@dataclass(frozen=True)
class SpecIssue:
    """One problem in a spec."""

    path: str
    message: str
    line: int | None = None


class SpecError(GanzooError, ValueError):
    """A spec failed to load or validate; ``str()`` is the user-facing report (exit status 2)."""

    def __init__(self, issues: list[SpecIssue], source: str | None = None) -> None:
        self.issues = issues
        self.source = source
        super().__init__(self.format())

    def format(self) -> str:
        head = f"invalid spec {self.source}" if self.source else "invalid spec"
        lines = [f"{head} ({len(self.issues)} error{'s' if len(self.issues) != 1 else ''}):"]
        for issue in self.issues:
            where = f"line {issue.line}: " if issue.line else ""
            path = f"{issue.path}: " if issue.path else ""
            lines.append(f"  {where}{path}{issue.message}")
        return "\n".join(lines)


def _resolve_loc(data: Any, loc: tuple[Any, ...]) -> tuple[list[str | int], str | None]:
    """Drop union tags from a pydantic location and note the component type."""
    path: list[str | int] = []
    ctype: str | None = None
    node = data
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str) and part not in node and node.get("type") == part:
            ctype = part  # the discriminated-union member, not a key
            continue
        if isinstance(part, str) and part.startswith(("function-", "tagged-union[")):
            continue
        path.append(part)
        if part == "params" and isinstance(node, dict) and isinstance(node.get("type"), str):
            ctype = node["type"]
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
    return path, ctype


def _split_tags(text: str) -> list[str]:
    return [t.strip().strip("'") for t in text.replace(" or ", ",").split(",") if t.strip()]


def _unknown_type(given: Any, expected: list[str], path: list[str | int], explain: Explain | None) -> str:
    # Why it is missing (a plugin that failed to load, a name conflict) comes before near names:
    # "did you mean" would send the author of a broken plugin the wrong way.
    why = explain(str(given), path) if explain is not None else ""
    return f"unknown type {str(given)!r}{why}.{suggest(str(given), expected)} Installed: {', '.join(expected)}"


def _message(err: Any, path: list[str | int], explain: Explain | None = None) -> str:
    msg: str = err["msg"]
    ctx = err.get("ctx", {})
    if err["type"] == "union_tag_invalid":
        return _unknown_type(ctx["tag"], _split_tags(str(ctx["expected_tags"])), path, explain)
    if err["type"] == "union_tag_not_found":
        return "missing 'type' (the component name)"
    if err["type"] == "int_parsing_size":  # pydantic's text speaks of strings even for 1e50
        return f"{err.get('input')!r} is too large for an integer"
    if err["type"] == "literal_error" and "expected" in ctx:
        given, expected = err.get("input"), _split_tags(str(ctx["expected"]))
        if path and path[-1] == "type":  # a slot with a single installed component
            return _unknown_type(given, expected, path, explain)
        return f"{msg}.{suggest(str(given), expected)}" if isinstance(given, str) else msg
    return msg


def locate(path: list[str | int] | tuple[str | int, ...], lines: dict[tuple[str | int, ...], int],
           origins: dict[tuple[str, ...], str] | None = None) -> tuple[int | None, str]:
    """Where a problem at ``path`` came from: (file line or None, a suffix naming an override or "").

    A value set by an override (``--set key=value``) is reported as such, not at
    the line of whatever part of its path the file happens to have (often line 1).
    """
    parts = tuple(str(p) for p in path)
    for key, origin in (origins or {}).items():
        if parts[: len(key)] == key:
            return None, f" (from {origin})"
    for k in range(len(path), 0, -1):  # not the document's line 1: it says nothing
        line = lines.get(tuple(path[:k]))
        if line:
            return line, ""
    return None, ""


def issues_from(exc: ValidationError, model: type[BaseModel], data: Any, lines: dict[tuple[str | int, ...], int],
                explain: Explain | None = None, *, origins: dict[tuple[str, ...], str] | None = None) -> list[SpecIssue]:
    """pydantic's errors as path-qualified issues; ``explain`` says why an unknown component type is missing."""
    issues = []
    for err in exc.errors(include_url=False):
        path, ctype = _resolve_loc(data, tuple(err["loc"]))
        if err["type"] == "extra_forbidden":
            parent_keys = _keys_at(model, data, path[:-1])
            msg = f"unknown key.{suggest(str(path[-1]), parent_keys)}" if path else "unknown key"
        else:
            if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
                path.append("type")
            msg = _message(err, path, explain)
        dotted = ".".join(str(p) for p in path)
        if ctype:
            dotted += f" (type={ctype})"
        line, origin = locate(path, lines, origins)
        issues.append(SpecIssue(dotted, msg + origin, line))
    return issues


def _candidates(ann: Any, node: Any) -> list[Any]:
    """Unwrap Optional/Annotated/Union/list annotations to the model classes they may hold."""
    origin = get_origin(ann)
    if origin is Annotated:
        return _candidates(get_args(ann)[0], node)
    if origin in (Union, UnionType):
        return [c for a in get_args(ann) for c in _candidates(a, node)]
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        tag = ann.model_fields.get("type")
        if tag is not None and get_origin(tag.annotation) is Literal:
            return [ann] if isinstance(node, dict) and node.get("type") in get_args(tag.annotation) else []
        return [ann]
    if origin is list:
        return [ann]
    return []


def _keys_at(model: type[BaseModel], data: Any, path: list[str | int]) -> list[str]:
    """Valid field names of the model found at ``path`` (for "did you mean")."""
    ann: Any = model
    node = data
    for part in path:
        if get_origin(ann) is list and isinstance(part, int):
            ann = get_args(ann)[0]
        else:
            classes = _models(ann, node)
            if not classes or not isinstance(part, str) or part not in classes[0].model_fields:
                return []
            ann = classes[0].model_fields[part].annotation
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int):
            node = node[part]
        else:
            node = None
        if get_origin(ann) is not list:
            ann = next(iter(_candidates(ann, node)), None)
    classes = _models(ann, node)
    return list(classes[0].model_fields) if classes else []


def _models(ann: Any, node: Any) -> list[type[BaseModel]]:
    """The model classes among :func:`_candidates` (not ``list[...]`` annotations)."""
    return [c for c in _candidates(ann, node) if isinstance(c, type) and get_origin(c) is None and issubclass(c, BaseModel)]
