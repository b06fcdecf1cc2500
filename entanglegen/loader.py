"""Stage 1: YAML text to a tree of located nodes, in bounded work.

The tree is built straight from PyYAML's event stream (libyaml's parser when available) by
one loop with an explicit stack, never by recursion, into small immutable :class:`YMap` /
:class:`YSeq` / :class:`YScalar` values that carry a :class:`~entanglegen.diagnostics.Loc`,
so every later diagnostic can point at the exact place.  Plain scalars are resolved like
PyYAML's *safe* loader does (the same implicit resolvers and constructors).

Choices where YAML is permissive (each one a located error):

* nesting deeper than :data:`MAX_DEPTH` collections is refused (no stage after this one
  needs to guard its recursion, and no schema needs it);
* aliases are counted before they are expanded: every alias adds the size of its anchor's
  expanded tree to a budget of :data:`ALIAS_BUDGET` nodes per file, so an alias bomb is
  refused at the alias that crosses the budget, wherever it is placed (an anchored tree is
  shared, never copied, so sharing itself costs nothing);
* explicit tags other than the standard scalar ones (``!!str``, ``!!int``, ``!!binary``...),
  ``!!seq`` and ``!!map`` are refused; ``!!python/…`` tags on any node in particular;
* a scalar that does not fit its tag (``2020-02-30``, ``!!int twelve``) is refused;
* duplicate mapping keys are an error (PyYAML silently keeps the last one); mapping keys
  must be scalars; merge keys (``<<``) are not interpreted: they surface as an unknown key;
* an unclosed quote or bracket is reported where it opens, a character YAML does not
  accept (NUL...) and a byte that is not UTF-8 at its own line and column.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from .diagnostics import Diagnostics, Loc

# libyaml is several times faster on large projects and gives the same marks.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

__all__ = [
    "ALIAS_BUDGET",
    "MAX_DEPTH",
    "YMap",
    "YNode",
    "YScalar",
    "YSeq",
    "load_file",
    "load_text",
    "plain",
]

MAX_DEPTH = 64
ALIAS_BUDGET = 100_000

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(
    _TAG + t for t in ("null", "bool", "int", "float", "str", "binary", "timestamp")
)
_MERGE = _TAG + "merge"
_STR = _TAG + "str"


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


class LoadError(Exception):
    """A located problem that stops loading one file."""

    def __init__(self, loc: Loc, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.loc, self.message, self.hint = loc, message, hint


@dataclass(slots=True)
class _Open:
    """A collection whose end event has not come yet."""

    kind: type[YSeq] | type[YMap]
    loc: Loc
    anchor: str | None
    children: list[YNode] = field(default_factory=list)
    size: int = 1  # expanded nodes, aliases included


class _Builder:
    def __init__(self, path: str, diags: Diagnostics) -> None:
        self.path = path
        self.d = diags
        self.constructor = SafeConstructor()
        self.resolver = Resolver()
        self.anchors: dict[str, tuple[YNode, int]] = {}
        self.aliased = 0
        # A value that could not be read leaves a hole later checks would misread.
        self.broken = False

    def loc(self, mark: Any) -> Loc:  # yaml.Mark, or libyaml's own Mark class
        return Loc(self.path, mark.line + 1, mark.column + 1)

    def run(self, events: Iterable[yaml.Event]) -> YNode | None:
        stack: list[_Open] = []
        root: YNode | None = None
        for event in events:
            if isinstance(event, yaml.CollectionStartEvent):
                stack.append(self.start(event, len(stack)))
                continue
            if isinstance(event, yaml.CollectionEndEvent):
                node, size = self.finish(stack.pop())
            elif isinstance(event, yaml.ScalarEvent):
                node, size = self.scalar(event), 1
            elif isinstance(event, yaml.AliasEvent):
                node, size = self.alias(event, stack)
            elif isinstance(event, yaml.DocumentStartEvent) and root is not None:
                raise LoadError(
                    self.loc(event.start_mark),
                    "a schema file holds one YAML document",
                    "remove the '---' and what follows it",
                )
            else:
                continue
            if stack:
                stack[-1].children.append(node)
                stack[-1].size += size
            else:
                root = node
        return root

    def start(self, event: yaml.CollectionStartEvent, depth: int) -> _Open:
        loc = self.loc(event.start_mark)
        if depth >= MAX_DEPTH:
            raise LoadError(
                loc,
                f"YAML nesting deeper than {MAX_DEPTH} levels",
                "a schema never needs this much nesting",
            )
        is_map = isinstance(event, yaml.MappingStartEvent)
        expected = _TAG + ("map" if is_map else "seq")
        if event.tag not in (None, "!", expected):
            self.bad_tag(loc, event.tag)
        return _Open(YMap if is_map else YSeq, loc, event.anchor)

    def finish(self, item: _Open) -> tuple[YNode, int]:
        node: YNode
        if item.kind is YSeq:
            node = YSeq(tuple(item.children), item.loc)
        else:
            node = self.mapping(item)
        if item.anchor is not None:
            self.anchors[item.anchor] = (node, item.size)
        return node, item.size

    def mapping(self, item: _Open) -> YMap:
        pairs: list[tuple[YScalar, YNode]] = []
        seen: dict[object, Loc] = {}
        children = item.children
        for key, value in zip(children[::2], children[1::2], strict=True):
            if not isinstance(key, YScalar) or not _hashable(key.value):
                self.d.error(key.loc, "mapping keys must be plain scalars")
                continue
            if key.value in seen:
                first = seen[key.value]
                self.d.error(
                    key.loc,
                    f"duplicate key {str(key.value)!r} (first defined at line {first.line})",
                )
                continue
            seen[key.value] = key.loc
            pairs.append((key, value))
        return YMap(tuple(pairs), item.loc)

    def scalar(self, event: yaml.ScalarEvent) -> YScalar:
        loc = self.loc(event.start_mark)
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.resolver.resolve(  # type: ignore[no-untyped-call]
                yaml.ScalarNode, event.value, event.implicit
            )
        value: object
        if tag == _STR:
            value = event.value  # what SafeConstructor makes of it, without the detour
        elif tag == _MERGE:
            value = event.value  # "<<" is an ordinary (unknown) key here
        elif tag not in _SCALAR_TAGS:
            self.bad_tag(loc, tag)
            value = None
        else:
            value = self.construct(event, tag, loc)
        node = YScalar(value, loc)
        if event.anchor is not None:
            self.anchors[event.anchor] = (node, 1)
        return node

    def construct(self, event: yaml.ScalarEvent, tag: str, loc: Loc) -> object:
        # No marks: a construction error is reported at ``loc`` by us.
        node = yaml.ScalarNode(tag, event.value, None, None, event.style)
        try:
            return self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
            kind = tag.removeprefix(_TAG)
            problem = _problem(exc) if isinstance(exc, yaml.YAMLError) else str(exc)
            self.d.error(
                loc,
                f"invalid {kind} value {event.value!r}: {problem}",
                hint=_hint(kind),
            )
            self.broken = True
            return None

    def alias(self, event: yaml.AliasEvent, stack: list[_Open]) -> tuple[YNode, int]:
        loc = self.loc(event.start_mark)
        anchor = event.anchor or ""
        if any(item.anchor == anchor for item in stack):
            raise LoadError(loc, f"recursive YAML alias *{anchor} (it contains itself)")
        if anchor not in self.anchors:
            raise LoadError(
                loc, f"unknown YAML alias *{anchor}", "define &anchor first"
            )
        node, size = self.anchors[anchor]
        self.aliased += size
        if self.aliased > ALIAS_BUDGET:
            raise LoadError(
                loc,
                f"YAML aliases expand to more than {ALIAS_BUDGET} nodes",
                "an alias bomb? write the values out, or share less",
            )
        return node, size

    def bad_tag(self, loc: Loc, tag: str | None) -> None:
        self.broken = True
        shown = "!!" + tag[len(_TAG) :] if tag and tag.startswith(_TAG) else tag
        self.d.error(
            loc,
            f"YAML tag {shown!r} is not allowed",
            hint="schemas hold plain YAML values (no !!python/ or custom tags)",
        )


def _hint(kind: str) -> str:
    if kind == "timestamp":
        return "write a real date as YYYY-MM-DD"
    if kind in ("int", "float"):
        return f"write the number in digits, or drop the !!{kind} tag"
    return ""


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


def _opened(exc: yaml.MarkedYAMLError, loc: Loc) -> str:
    # Where the construct that failed opens, when the error is reported elsewhere.
    mark = exc.context_mark
    if mark is None or (mark.line + 1, mark.column + 1) == (loc.line, loc.col):
        return ""
    return f" (it opens at line {mark.line + 1}, column {mark.column + 1})"


def _mark_loc(exc: yaml.MarkedYAMLError, path: str) -> Loc:
    mark = exc.problem_mark or exc.context_mark
    # An unclosed quote or bracket is found at the end of the stream; the place to fix
    # is where it opens.
    if exc.context_mark is not None and "end of stream" in (exc.problem or ""):
        mark = exc.context_mark
    return Loc(path, mark.line + 1, mark.column + 1) if mark else Loc(path, 1, 1)


def _offset_loc(text: str, offset: int, path: str) -> Loc:
    before = text[:offset]
    line_start = max(before.rfind("\n"), before.rfind("\r")) + 1
    return Loc(path, before.count("\n") + 1, offset - line_start + 1)


def load_text(text: str, path: str, diags: Diagnostics) -> YNode | None:
    """Parse ``text`` (named ``path`` in diagnostics); None when it cannot be loaded."""
    builder = _Builder(path, diags)
    try:
        node = builder.run(yaml.parse(text, Loader=_LOADER))
    except LoadError as exc:
        diags.error(exc.loc, exc.message, hint=exc.hint)
        return None
    except yaml.MarkedYAMLError as exc:
        loc = _mark_loc(exc, path)
        diags.error(loc, f"YAML syntax error: {_problem(exc)}{_opened(exc, loc)}")
        return None
    except yaml.reader.ReaderError as exc:
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        diags.error(
            _offset_loc(text, exc.position, path),
            f"character U+{char:04X} is not allowed in YAML ({exc.reason})",
            hint="remove it, or write it as an escape in a double-quoted string",
        )
        return None
    except yaml.YAMLError as exc:
        diags.error(Loc(path, 1, 1), f"YAML error: {exc}")
        return None
    if node is None:
        diags.error(Loc(path, 1, 1), "empty schema file")
    return None if builder.broken else node


def load_file(file: Path, display: str, diags: Diagnostics) -> YNode | None:
    """Read and parse one schema file; unreadable files become diagnostics."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        diags.error(Loc(display, 1, 1), f"cannot read schema file: {exc.strerror}")
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        good = data[: exc.start].decode("utf-8")
        diags.error(
            _offset_loc(good, len(good), display),
            f"schema file is not UTF-8: byte 0x{data[exc.start]:02x} ({exc.reason})",
            hint="save the file as UTF-8",
        )
        return None
    return load_text(text, display, diags)


def plain(node: YNode) -> object:
    """The plain Python value of a node (for defaults and enum values).

    Bounded: the loader limits nesting and alias expansion.
    """
    if isinstance(node, YScalar):
        return node.value
    if isinstance(node, YSeq):
        return [plain(item) for item in node.items]
    return {k.value: plain(v) for k, v in node.items}
