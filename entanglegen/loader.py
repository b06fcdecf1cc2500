"""Stage 1: YAML text to a tree of located nodes.

``yaml.compose`` keeps a mark (line, column) on every node; we convert its node graph into
small immutable :class:`YMap` / :class:`YSeq` / :class:`YScalar` values that carry a
:class:`~entanglegen.diagnostics.Loc`, so every later diagnostic can point at the exact
place.  Scalars are resolved with PyYAML's *safe* constructor (no arbitrary tags).

Choices where YAML is permissive:

* duplicate mapping keys are an error (PyYAML silently keeps the last one);
* mapping keys must be scalars;
* aliases are allowed, but an alias that contains itself is an error (it cannot be a
  schema value);
* merge keys (``<<``) are not interpreted: they surface as an unknown key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.constructor import SafeConstructor

from .diagnostics import Diagnostics, Loc

# libyaml is several times faster on large projects and gives the same marks.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

__all__ = ["YMap", "YNode", "YScalar", "YSeq", "load_file", "load_text", "plain"]


@dataclass(frozen=True, slots=True)
class YScalar:
    value: object
    loc: Loc


@dataclass(frozen=True, slots=True)
class YSeq:
    items: tuple[YNode, ...]
    loc: Loc


@dataclass(frozen=True, slots=True)
class YMap:
    items: tuple[tuple[YScalar, YNode], ...]
    loc: Loc

    def get(self, key: str) -> YNode | None:
        for k, v in self.items:
            if k.value == key:
                return v
        return None

    def names(self) -> list[str]:
        return [str(k.value) for k, _ in self.items]


YNode = YScalar | YSeq | YMap


class _Converter:
    def __init__(self, path: str, diags: Diagnostics) -> None:
        self.path = path
        self.diags = diags
        self.constructor = SafeConstructor()
        self.active: set[int] = set()

    def loc(self, node: yaml.Node) -> Loc:
        mark = node.start_mark
        return Loc(self.path, mark.line + 1, mark.column + 1)

    def convert(self, node: yaml.Node) -> YNode:
        if id(node) in self.active:
            self.diags.error(self.loc(node), "recursive YAML alias")
            return YScalar(None, self.loc(node))
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node)
            if isinstance(node, yaml.SequenceNode):
                items = tuple(self.convert(child) for child in node.value)
                return YSeq(items, self.loc(node))
            return self._scalar(node)
        finally:
            self.active.discard(id(node))

    def _scalar(self, node: yaml.Node) -> YScalar:
        try:
            value = self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self.diags.error(self.loc(node), f"invalid YAML value: {_problem(exc)}")
            value = None
        return YScalar(value, self.loc(node))

    def _mapping(self, node: yaml.MappingNode) -> YMap:
        items: list[tuple[YScalar, YNode]] = []
        seen: dict[object, Loc] = {}
        for key_node, value_node in node.value:
            key = self.convert(key_node)
            if not isinstance(key, YScalar) or not _hashable(key.value):
                self.diags.error(
                    self.loc(key_node), "mapping keys must be plain scalars"
                )
                continue
            if key.value in seen:
                first = seen[key.value]
                self.diags.error(
                    key.loc,
                    f"duplicate key {str(key.value)!r} (first defined at line {first.line})",
                )
                continue
            seen[key.value] = key.loc
            items.append((key, self.convert(value_node)))
        return YMap(tuple(items), self.loc(node))


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        parts = [p for p in (exc.context, exc.problem) if p]
        return ", ".join(parts) or str(exc)
    return str(exc)


def load_text(text: str, path: str, diags: Diagnostics) -> YNode | None:
    """Parse ``text`` (named ``path`` in diagnostics); None when it is not valid YAML."""
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Loc(path, mark.line + 1, mark.column + 1) if mark else Loc(path, 1, 1)
        diags.error(loc, f"YAML syntax error: {_problem(exc)}")
        return None
    except yaml.YAMLError as exc:
        diags.error(Loc(path, 1, 1), f"YAML error: {exc}")
        return None
    if node is None:
        diags.error(Loc(path, 1, 1), "empty schema file")
        return None
    return _Converter(path, diags).convert(node)


def load_file(file: Path, display: str, diags: Diagnostics) -> YNode | None:
    """Read and parse one schema file; unreadable files become diagnostics."""
    try:
        text = file.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        diags.error(Loc(display, 1, 1), f"schema file is not UTF-8: {exc.reason}")
        return None
    except OSError as exc:
        diags.error(Loc(display, 1, 1), f"cannot read schema file: {exc.strerror}")
        return None
    return load_text(text, display, diags)


def plain(node: YNode) -> object:
    """The plain Python value of a node (for defaults and enum values)."""
    if isinstance(node, YScalar):
        return node.value
    if isinstance(node, YSeq):
        return [plain(item) for item in node.items]
    return {k.value: plain(v) for k, v in node.items}
