"""Safe YAML loading with line numbers for error messages.

PyYAML follows YAML 1.1, where ``1e-4`` (no dot) is a *string*; specs are
written by people who expect a float, so the float resolver is widened.

Every YAML ganzoo reads (specs, sweep files, ``--set`` values, a run's
``spec.yaml``) goes through :class:`SpecLoader`, which refuses two things plain
PyYAML accepts: a key given twice in one mapping (the second silently replaced
the first) and a document whose aliases expand past :data:`MAX_NODES` values
(a "billion laughs" file of a few hundred bytes expands to billions of values
in anything that walks it, such as JSON or the line map).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from ganzoo.errors import GanzooError

__all__ = ["MAX_NODES", "SpecLoader", "SpecYAMLError", "load_yaml", "dump_yaml", "line_map", "parse_value"]

# Values in one document with every alias expanded. A full resolved spec has a
# few hundred; the limit only stops documents built to explode.
MAX_NODES = 100_000


class SpecYAMLError(yaml.MarkedYAMLError, GanzooError):
    """A YAML document that parses but that ganzoo refuses (duplicate keys, alias bombs).

    Spec readers turn it into a :class:`ganzoo.spec.errors.SpecError` naming the
    file; anywhere else it is still bad input (exit status 2), never a traceback.

    Attributes:
        path: Dotted key path of the offending node ("" at the top level).
    """

    def __init__(self, problem: str, mark: Any, path: str = "") -> None:
        super().__init__(problem=problem, problem_mark=mark)
        self.path = path


class SpecLoader(yaml.SafeLoader):
    """``SafeLoader`` that reads ``1e-4`` as a float and refuses duplicate keys and alias bombs.

    The composer counts every node it returns, an alias counting as the whole
    subtree it stands for, so the expanded size is known without expanding it.
    """

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._expanded = 0  # nodes so far, aliases counted at their expanded size
        self._sizes: dict[int, int] = {}  # id(anchored node) -> its expanded size, once complete
        self._path: list[str | int] = []

    def _where(self) -> str:
        return ".".join(str(p) for p in self._path)

    def _count(self, n: int, mark: Any, alias: bool) -> None:
        self._expanded += n
        if self._expanded > MAX_NODES:
            how = "once its aliases (*name) are expanded" if alias or self._sizes else "in all"
            raise SpecYAMLError(f"the document holds more than {MAX_NODES} values {how}; ganzoo refuses it", mark, self._where())

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        # Track the key path for messages: a sequence item's index, a mapping value's key.
        part = index if isinstance(parent, yaml.SequenceNode) else index.value if isinstance(index, yaml.ScalarNode) else None
        if part is not None:
            self._path.append(part)
        try:
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent):
                node: Any = super().compose_node(parent, index)
                size = self._sizes.get(id(node))
                if size is None:  # the anchored node is still being composed: it contains itself
                    raise SpecYAMLError(f"alias *{event.anchor} refers to a node that contains it (recursive aliases are not allowed)",
                                        event.start_mark, self._where())
                self._count(size, event.start_mark, alias=True)
                return node
            before = self._expanded
            node = super().compose_node(parent, index)
            self._count(1, event.start_mark, alias=False)
            if getattr(event, "anchor", None) is not None:
                self._sizes[id(node)] = self._expanded - before
            return node
        finally:
            if part is not None:
                self._path.pop()

    def compose_mapping_node(self, anchor: Any) -> yaml.MappingNode:
        # PyYAML's own, with the duplicate-key check it leaves commented out.
        start = self.get_event()
        tag = start.tag
        if tag is None or tag == "!":
            tag = self.resolve(yaml.MappingNode, None, start.implicit)
        node = yaml.MappingNode(tag, [], start.start_mark, None, flow_style=start.flow_style)
        if anchor is not None:
            self.anchors[anchor] = node
        seen: dict[tuple[str, str], Any] = {}
        while not self.check_event(yaml.MappingEndEvent):
            key_mark = self.peek_event().start_mark
            key = self.compose_node(node, None)
            if isinstance(key, yaml.ScalarNode):
                first = seen.setdefault((key.tag, key.value), key_mark)
                if first is not key_mark:
                    where = ".".join(str(p) for p in (*self._path, key.value))
                    raise SpecYAMLError(f"duplicate key {key.value!r} (first at line {first.line + 1}, again at line "
                                        f"{key_mark.line + 1}); a key may appear once in a mapping", key_mark, where)
            node.value.append((key, self.compose_node(node, key)))
        node.end_mark = self.get_event().end_mark
        return node


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
    except (yaml.YAMLError, RecursionError):
        return out
    walked: set[int] = set()

    def walk(node: yaml.Node, path: tuple[str | int, ...]) -> None:
        out.setdefault(path, node.start_mark.line + 1)
        if id(node) in walked:  # an aliased node: its lines are those of its first path, walked once
            return
        walked.add(id(node))
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
