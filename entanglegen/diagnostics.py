"""Diagnostics: located problems found in schemas, and their three output formats.

A :class:`Diagnostic` names a file, a 1-based line and column, a level, a message, the
dotted key path of the offending node (``types.Machine.properties.owner.type``) and an
optional hint.  Every stage appends to a shared list instead of raising, so one run reports
every problem of every file (sqlc style).  Formats:

* ``text``:   ``schemas/a.yaml:12:5: error: message [types.A.properties.b] (hint: ...)``
* ``json``:   one JSON array of objects with the same fields
* ``github``: ``::error file=…,line=…,col=…,title=entanglegen::message`` workflow commands

Nothing a schema names can forge a line or break the output's encoding: a path holding
anything but plain characters is printed quoted (Python ``ascii`` form, so a newline, a
control character or a file name that is not UTF-8 appear as escapes), and control
characters, line separators and lone surrogates in messages are escaped.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass


class UsageError(Exception):
    """The command line names nothing usable (a missing path, no schema files): exit 2."""


class Level(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Loc:
    """Where a YAML node starts: a file path (as the user named it) and 1-based line/col."""

    path: str
    line: int
    col: int


@dataclass(frozen=True, slots=True)
class Diagnostic:
    path: str
    line: int
    col: int
    level: Level
    message: str
    key_path: str = ""
    hint: str = ""

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.col, self.message)


class Diagnostics:
    """An accumulator of diagnostics shared by the validation stages."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def error(self, loc: Loc, message: str, key_path: str = "", hint: str = "") -> None:
        self.items.append(
            Diagnostic(
                loc.path, loc.line, loc.col, Level.ERROR, message, key_path, hint
            )
        )

    def warning(
        self, loc: Loc, message: str, key_path: str = "", hint: str = ""
    ) -> None:
        self.items.append(
            Diagnostic(
                loc.path, loc.line, loc.col, Level.WARNING, message, key_path, hint
            )
        )

    @property
    def has_errors(self) -> bool:
        return any(d.level is Level.ERROR for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        # Deduplicate: two stages may legitimately reach the same conclusion.
        return sorted(set(self.items), key=Diagnostic.sort_key)


# Control characters, the line separators str.splitlines and terminals honour, and lone
# surrogates (a file name that is not UTF-8): none may reach the output as such.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_PLAIN_PATH = re.compile(r"[A-Za-z0-9._/+@~-][A-Za-z0-9._/+@~ -]*")


def _one_line(text: str) -> str:
    # A message may quote user text; never let it break the line-oriented formats.
    return _UNSAFE.sub(lambda m: ascii(m.group())[1:-1], text)


def shown_path(path: str) -> str:
    """``path`` as printed: as is when plain, else quoted with escapes."""
    if _PLAIN_PATH.fullmatch(path) and not path.endswith(" "):
        return path
    return ascii(path)


def format_text(diag: Diagnostic) -> str:
    line = (
        f"{shown_path(diag.path)}:{diag.line}:{diag.col}: {diag.level}: "
        f"{_one_line(diag.message)}"
    )
    if diag.key_path:
        line += f" [{_one_line(diag.key_path)}]"
    if diag.hint:
        line += f" (hint: {_one_line(diag.hint)})"
    return line


def _github_escape(text: str, *, prop: bool) -> str:
    # Escaping rules of GitHub workflow commands (data vs property values).
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def format_github(diag: Diagnostic) -> str:
    message = diag.message
    if diag.key_path:
        message += f" [{diag.key_path}]"
    if diag.hint:
        message += f" (hint: {diag.hint})"
    return (
        f"::{diag.level} file={_github_escape(_one_line(diag.path), prop=True)},"
        f"line={diag.line},col={diag.col},title=entanglegen::"
        f"{_github_escape(_one_line(message), prop=False)}"
    )


def summary(diags: Sequence[Diagnostic]) -> str:
    errors = sum(1 for d in diags if d.level is Level.ERROR)
    warnings = len(diags) - errors
    files = len({d.path for d in diags})
    parts = [_plural(errors, "error"), _plural(warnings, "warning")]
    return f"entanglegen: {', '.join(parts)} in {_plural(files, 'file')}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def render(diags: Iterable[Diagnostic], fmt: str) -> str:
    """Render diagnostics in ``text``, ``json`` or ``github`` format (trailing newline)."""
    items = list(diags)
    if fmt == "json":
        rows = [asdict(d) | {"level": str(d.level)} for d in items]
        return json.dumps(rows, indent=2) + "\n"
    if fmt == "github":
        return "".join(format_github(d) + "\n" for d in items)
    lines = [format_text(d) for d in items]
    if items:
        lines.append(summary(items))
    return "".join(line + "\n" for line in lines)
