"""``entanglegen breaking``: which schema changes break peers, databases or code.

Usage: ``entanglegen breaking [SCHEMAS…] --against REF_OR_DIR [--format text|json|github]``

Both sides go through the generator's stages (:mod:`entanglegen.breaking_model`), are
matched and compared by the rules of :mod:`entanglegen.breaking_rules` (which calls
:mod:`entanglegen.breaking_props`, :mod:`entanglegen.breaking_options` and
:mod:`entanglegen.breaking_navigation`; docs/schema.md, "Evolving a schema", lists them
all), and
every change is reported at the new file's place (the old file's for a removal)::

    schemas/board.yaml:12:7: breaking: [PROPERTY_REMOVED] property ... (WIRE, SQL, API)

``text`` writes those lines to stderr; ``json`` and ``github`` (workflow annotations:
``::error`` for a break, ``::notice`` for a safe or accepted change) write to stdout.  A
one-line summary always goes to stderr.

Accepted breaks: ``[tool.entanglegen.breaking] ignore = ["RULE:Type.prop", …]`` in the
nearest pyproject.toml (the one ``entanglegen.cli.find_config`` finds).  The part after
the colon is a glob matched against the change's subject (``Type``, ``Type.prop``,
``Enum.value``, ``registry.operation``), with or without the ``registry.`` prefix;
an entry that matches nothing is reported (not an error) so stale entries get noticed.

Exit status: 0 nothing breaks (or every break is accepted), 1 something breaks, 2 usage
error (bad option, unknown ref, bad ignore entry) or a side whose schemas do not validate
(its diagnostics are printed: a comparison of a broken schema would mislead).
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from .breaking_model import Project, load_project
from .breaking_rules import RULES, Change, compare
from .breaking_sources import UsageError, from_disk, from_git
from .cli import find_config
from .diagnostics import _github_escape, render
from .schema import did_you_mean

__all__ = ["Ignore", "main", "read_ignores"]


@dataclass(frozen=True, slots=True)
class Ignore:
    """One accepted break: ``rule`` and a glob over the change's subject."""

    entry: str
    rule: str
    pattern: str

    def matches(self, change: Change) -> bool:
        if change.rule != self.rule:
            return False
        return fnmatchcase(change.subject, self.pattern) or fnmatchcase(
            f"{change.registry}.{change.subject}", self.pattern
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="entanglegen breaking",
        description="Report schema changes that break peers on the old schema, "
        "existing databases, or code using the generated packages.",
    )
    parser.add_argument(
        "schemas", nargs="*", type=Path, help="schema files or directories (new side)"
    )
    parser.add_argument(
        "--against",
        required=True,
        metavar="REF_OR_DIR",
        help="a directory (or file) of old schemas, or a git ref (main, HEAD~1, a tag)",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "github"),
        default="text",
        help="report format: text on stderr (default), or json / github workflow "
        "annotations on stdout",
    )
    return parser


def read_ignores(pyproject: Path) -> list[Ignore]:
    """The accepted breaks of ``pyproject`` (none if it does not exist)."""
    if not pyproject.is_file():
        return []
    try:
        data = tomllib.loads(pyproject.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{pyproject}: {exc}") from None
    section = data.get("tool", {}).get("entanglegen", {}).get("breaking", {})
    entries = section.get("ignore", []) if isinstance(section, dict) else None
    where = f"{pyproject}: [tool.entanglegen.breaking] ignore"
    if not isinstance(entries, list):
        raise UsageError(f"{where} must be a list of 'RULE:Type.prop' strings")
    ignores = []
    for entry in entries:
        rule, sep, pattern = str(entry).partition(":")
        if not isinstance(entry, str) or not sep or not pattern:
            raise UsageError(f"{where}: {entry!r} is not 'RULE:Type.prop'")
        if rule not in RULES:
            hint = did_you_mean(rule, list(RULES))
            raise UsageError(
                f"{where}: unknown rule {rule!r}" + (f" ({hint})" if hint else "")
            )
        ignores.append(Ignore(entry, rule, pattern))
    return ignores


def _load(label: str, project: Project, fmt: str) -> Project:
    if not project.ok:
        sys.stderr.write(
            f"entanglegen breaking: the schemas of {label} do not validate\n"
        )
        sys.stderr.write(render(project.diagnostics, "text"))
        if fmt == "github":  # annotate the lines in CI too
            sys.stdout.write(render(project.diagnostics, "github"))
        raise UsageError(f"fix the schemas of {label} first")
    return project


def _line(change: Change, status: str) -> str:
    text = f"{change.loc.path}:{change.loc.line}:{change.loc.col}: {status}: "
    text += f"[{change.rule}] {change.message}"
    if change.categories:
        text += f" ({', '.join(change.categories)})"
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _status(change: Change, ignored: set[Change]) -> str:
    if not change.breaking:
        return "safe"
    return "ignored" if change in ignored else "breaking"


def _github(change: Change, status: str) -> str:
    level = "error" if status == "breaking" else "notice"
    title = f"entanglegen breaking [{change.rule}]"
    message = change.message
    if change.categories:
        message += f" ({', '.join(change.categories)})"
    if status == "ignored":
        message += " (accepted in pyproject.toml)"
    return (
        f"::{level} file={_github_escape(change.loc.path, prop=True)},"
        f"line={change.loc.line},col={change.loc.col},"
        f"title={_github_escape(title, prop=True)}::"
        f"{_github_escape(message, prop=False)}\n"
    )


def _json(changes: list[Change], ignored: set[Change], against: str) -> str:
    rows = [
        {
            "path": c.loc.path,
            "line": c.loc.line,
            "col": c.loc.col,
            "rule": c.rule,
            "registry": c.registry,
            "subject": c.subject,
            "message": c.message,
            "categories": list(c.categories),
            "status": _status(c, ignored),
        }
        for c in changes
    ]
    return json.dumps({"against": against, "changes": rows}, indent=2) + "\n"


def _summary(changes: list[Change], ignored: set[Change], against: str) -> str:
    statuses = [_status(c, ignored) for c in changes]
    counts = {s: statuses.count(s) for s in ("breaking", "ignored", "safe")}
    kinds = {cat: 0 for cat in ("WIRE", "SQL", "API")}
    for change, status in zip(changes, statuses, strict=True):
        for cat in change.categories if status == "breaking" else ():
            kinds[cat] += 1
    detail = ", ".join(f"{cat} {n}" for cat, n in kinds.items() if n)
    return (
        f"entanglegen breaking: {counts['breaking']} breaking"
        + (f" ({detail})" if detail else "")
        + f", {counts['ignored']} ignored, {counts['safe']} safe "
        f"change(s) against {against}\n"
    )


def _sides(args: argparse.Namespace, root: Path, paths: list[Path]) -> list[Change]:
    """Load both sides (usage errors for what cannot be compared) and compare them."""
    new_sources = from_disk(paths, root)
    if not new_sources:
        shown = ", ".join(str(p) for p in paths)
        raise UsageError(f"no schema files found in {shown}")
    new = _load("the working tree", load_project(new_sources), args.format)
    against = Path(args.against)
    if against.is_dir() or against.is_file():
        old_sources = from_disk([against], root)
    else:
        old_sources = from_git(args.against, paths, root)
    old = _load(args.against, load_project(old_sources), args.format)
    return compare(old, new)


def _report(
    fmt: str, against: str, changes: list[Change], ignores: list[Ignore]
) -> set[Change]:
    """Write the report in ``fmt``; return the breaking changes that are accepted."""
    ignored = {c for c in changes if c.breaking and any(i.matches(c) for i in ignores)}
    if fmt == "json":
        sys.stdout.write(_json(changes, ignored, against))
    elif fmt == "github":
        sys.stdout.writelines(_github(c, _status(c, ignored)) for c in changes)
    else:
        sys.stderr.writelines(_line(c, _status(c, ignored)) + "\n" for c in changes)
    for ignore in ignores:
        if not any(ignore.matches(c) for c in changes):
            sys.stderr.write(
                f"entanglegen breaking: ignore entry {ignore.entry!r} matches no change "
                "(remove it from pyproject.toml?)\n"
            )
    sys.stderr.write(_summary(changes, ignored, against))
    return ignored


def run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    config = find_config(Path.cwd())
    ignores = read_ignores(config.root / "pyproject.toml")
    changes = _sides(args, config.root, args.schemas or config.schemas)
    ignored = _report(args.format, args.against, changes, ignores)
    return 1 if any(c.breaking and c not in ignored for c in changes) else 0


def main(argv: list[str]) -> int:
    """Entry point (``entanglegen breaking``); returns the exit status, never raises."""
    try:
        return run(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    except UsageError as exc:
        print(f"entanglegen breaking: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the last line of defence: one clear line, no traceback
        print(
            f"entanglegen breaking: internal error: {type(exc).__name__}: {exc} "
            "(please report this with the schemas that caused it)",
            file=sys.stderr,
        )
        return 2
