"""The ``entanglegen`` command line (also ``python -m entanglegen``).

Sub-commands: ``init``, ``check``, ``build``, ``schema``, ``breaking``, ``migrations``,
``pki``, ``node``, ``demo``.  Paths default to ``[tool.entanglegen]`` of the nearest
pyproject.toml above the working directory (``schemas`` and ``output``, relative to that
file; ``layout`` and ``version`` of the output, :mod:`entanglegen.dist`); the directory
holding it is the project root that headers and diagnostics are relative to.  ``pki``,
``node`` and ``demo`` are imported only when used, so ``build`` works without the rest of
the runtime.

Conventions (those of ruff, buf and sqlc):

* ``--format json|github`` write the diagnostics, and nothing else, to stdout (``json``:
  one array, ``[]`` when clean); ``text`` diagnostics and every other human message go to
  stderr.  The one-line result of ``check`` (``checked 3 files, 12 types: ok``) and of
  ``build`` (what was written), and ``build --check``'s diff, go to stdout in the ``text``
  format and to stderr in the machine formats; ``-q`` drops the result line.
* Exit status: 0 success; 1 findings (schema errors, warnings with
  ``--fail-on-warning``, differences found by ``build --check``); 2 usage errors (a path
  that does not exist, paths holding no schema file, a bad option or configuration) and
  internal errors, reported in one line, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from . import __version__, writer
from .build import build, fingerprint, schema_files, validate
from .diagnostics import Diagnostic, Diagnostics, Level, UsageError, render
from .dispatch import DISPATCH, run_dispatched
from .dist import DEFAULT_VERSION, LAYOUTS
from .formatting import FormatError
from .render import RenderError
from .schema import json_schema_text

__all__ = ["Config", "find_config", "main"]


@dataclass(frozen=True)
class Config:
    """A project's ``[tool.entanglegen]``: where its schemas are and how to build them."""

    root: Path
    schemas: list[Path]
    output: Path
    layout: str = "packages"
    version: str = DEFAULT_VERSION


def find_config(cwd: Path) -> Config:
    """Defaults from the nearest pyproject.toml's ``[tool.entanglegen]``.

    Raises:
        UsageError: ``layout`` or ``version`` has a value that cannot be used.
    """
    for directory in (cwd, *cwd.parents):
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            try:
                data = tomllib.loads(pyproject.read_text("utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                continue
            return _config(directory, data.get("tool", {}).get("entanglegen", {}))
    return Config(root=cwd, schemas=[cwd / "schemas"], output=cwd / "generated")


def _config(directory: Path, tool: dict[str, Any]) -> Config:
    where = f"{(directory / 'pyproject.toml').as_posix()}: [tool.entanglegen]"
    schemas = tool.get("schemas", ["schemas"])
    if isinstance(schemas, str):
        schemas = [schemas]
    layout = tool.get("layout", "packages")
    if layout not in LAYOUTS:
        raise UsageError(f"{where} layout must be one of {', '.join(LAYOUTS)}")
    version = tool.get("version", DEFAULT_VERSION)
    if not (isinstance(version, str) and version[:1].isdigit() and version.isascii()):
        raise UsageError(f"{where} version must be a version string such as '1.0.2'")
    return Config(
        root=directory,
        schemas=[directory / str(s) for s in schemas],
        output=directory / str(tool.get("output", "generated")),
        layout=layout,
        version=version,
    )


def _add_common(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument(
        "schemas",
        nargs="*",
        type=Path,
        metavar="SCHEMAS",
        help="schema files or directories (default: [tool.entanglegen] schemas of "
        "the nearest pyproject.toml, else ./schemas)",
    )
    cmd.add_argument(
        "--format",
        choices=("text", "json", "github"),
        default="text",
        help="diagnostics format: text on stderr (default), or json / github "
        "workflow annotations on stdout",
    )
    cmd.add_argument(
        "--fail-on-warning",
        action="store_true",
        help="exit 1 on warnings too",
    )
    cmd.add_argument(
        "-q", "--quiet", action="store_true", help="no result line on success"
    )


def _add_build_options(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument(
        "-o",
        "--output",
        type=Path,
        help="output directory (default: [tool.entanglegen] output, else ./generated)",
    )
    cmd.add_argument(
        "--layout",
        choices=LAYOUTS,
        help="packages: import packages at the top of the output; distribution: each "
        "package inside an installable directory with its own pyproject.toml "
        "(default: [tool.entanglegen] layout, else packages)",
    )
    cmd.add_argument(
        "--target",
        choices=("python", "typescript"),
        default="python",
        help="what to generate (default: python); typescript writes npm packages, by "
        "default into OUTPUT/typescript",
    )
    cmd.add_argument(
        "--templates", type=Path, help="a directory of templates overriding ours"
    )
    cmd.add_argument(
        "-j",
        "--jobs",
        type=int,
        help="processes formatting with black (default: one per CPU)",
    )
    cmd.add_argument(
        "--check",
        action="store_true",
        help="write nothing; print a diff and exit 1 if anything would change",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="entanglegen",
        description="Generate typed entanglement packages from YAML registry schemas, "
        "and run the nodes that synchronise them.",
        epilog="Run 'entanglegen COMMAND --help' for the options of a command.",
    )
    parser.add_argument(
        "--version", action="version", version=f"entanglegen {__version__}"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    init = sub.add_parser(
        "init",
        help="start a project: pyproject.toml configuration and a first schema",
        description="Create DIR/pyproject.toml's [tool.entanglegen] (added to an "
        "existing pyproject.toml), DIR/schemas/ with a first schema that builds, and "
        "the JSON Schema of the schema language for editors. Existing files are kept.",
    )
    init.add_argument(
        "directory",
        nargs="?",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="the project directory (default: the current one; created if missing)",
    )
    init.add_argument(
        "--name",
        help="registry name of the first schema (default: from the directory name); "
        "its package is NAME_sync",
    )
    check = sub.add_parser(
        "check",
        help="validate schemas",
        description="Validate schema files and report every problem found.",
    )
    _add_common(check)
    build_cmd = sub.add_parser(
        "build",
        help="validate schemas and write the generated packages",
        description="Validate schema files and write the generated packages; files "
        "an earlier build wrote and this one does not are removed, others are kept.",
    )
    _add_common(build_cmd)
    _add_build_options(build_cmd)
    sub.add_parser("schema", help="print the JSON Schema of the schema language")
    # Listed for --help only: run() hands these to their own parsers.
    for name, text in _DISPATCHED_HELP.items():
        sub.add_parser(name, help=text, add_help=False)
    return parser


_DISPATCHED_HELP = {
    "breaking": "report schema changes that break peers, databases or code",
    "migrations": "database revisions of the generated SQL packages",
    "pki": "a site CA and node certificates",
    "node": "run a node over an SQL database, or manage its peers",
    "demo": "two nodes on loopback converging to the same state",
}


def _failed(diags: Sequence[Diagnostic], fail_on_warning: bool) -> bool:
    return any(
        d.level is Level.ERROR or (fail_on_warning and d.level is Level.WARNING)
        for d in diags
    )


def _relative(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _human(fmt: str) -> TextIO:
    """Where result lines go: stdout, unless stdout carries a machine format."""
    return sys.stdout if fmt == "text" else sys.stderr


def _emit(diags: list[Diagnostic], fmt: str) -> None:
    (sys.stderr if fmt == "text" else sys.stdout).write(render(diags, fmt))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def cmd_check(args: argparse.Namespace, config: Config) -> int:
    files = schema_files(args.schemas or config.schemas)
    diags = Diagnostics()
    specs = validate(files, config.root, diags)
    items = diags.sorted()
    _emit(items, args.format)
    if _failed(items, args.fail_on_warning):
        return 1
    if not args.quiet:
        types = sum(len(spec.types) for spec in specs)
        line = f"checked {_plural(len(files), 'file')}, {_plural(types, 'type')}: ok"
        warnings = sum(1 for d in items if d.level is Level.WARNING)
        line += f" ({_plural(warnings, 'warning')})" if warnings else ""
        print(line, file=_human(args.format))
    return 0


def cmd_build(args: argparse.Namespace, config: Config) -> int:
    if args.target == "typescript":
        return _build_typescript(args, config)
    schemas = args.schemas or config.schemas
    schema_files(schemas)  # a usage error before anything else
    out_dir = args.output or config.output
    layout = args.layout or config.layout
    human = _human(args.format)
    stamp = fingerprint(
        schemas,
        root=config.root,
        templates=args.templates,
        layout=layout,
        version=config.version,
    )
    if not args.check and writer.is_up_to_date(out_dir, stamp):
        if args.format == "json":
            _emit([], args.format)  # stdout is one JSON array whatever happens
        if not args.quiet:
            print(f"entanglegen: {_relative(out_dir)} is up to date", file=human)
        return 0
    result = build(
        schemas,
        root=config.root,
        templates=args.templates,
        jobs=args.jobs,
        layout=layout,
        version=config.version,
    )
    _emit(result.diagnostics, args.format)
    if not result.ok or _failed(result.diagnostics, args.fail_on_warning):
        return 1
    plan = writer.plan(result.files, out_dir)
    if args.check:
        return _report_check(plan, out_dir, human)
    writer.apply(plan, out_dir)
    writer.write_manifest(out_dir, result.files, stamp)
    if not args.quiet:
        print(
            f"entanglegen: wrote {len(plan.write)}, removed {len(plan.delete)}, "
            f"unchanged {len(result.files) - len(plan.write)} file(s) in "
            f"{_relative(out_dir)}",
            file=human,
        )
    return 0


def _report_check(plan: writer.Plan, out_dir: Path, human: TextIO) -> int:
    """``build --check``: the diff from disk to the build; 1 if there is one."""
    if plan.empty:
        return 0
    human.write(writer.diff(plan, out_dir, _relative(out_dir)))
    changed = len(plan.write) + len(plan.delete)
    print(
        f"entanglegen: {changed} generated file(s) out of date; run 'entanglegen build'",
        file=sys.stderr,
    )
    return 1


def _build_typescript(args: argparse.Namespace, config: Config) -> int:
    """Hand the build to the TypeScript target (``entanglegen.typescript``)."""
    if importlib.util.find_spec("entanglegen.typescript") is None:
        raise UsageError("the typescript target is not available in this version")
    schemas = args.schemas or config.schemas
    schema_files(schemas)
    if len(schemas) != 1:
        raise UsageError("--target typescript takes one schema directory")
    target = importlib.import_module("entanglegen.typescript")
    out_dir = args.output or config.output / "typescript"
    return int(target.build(schemas[0], out_dir, bool(args.check)))


def run(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Hand the rest of the line to the dispatched tool untouched (argparse would try to
    # interpret its options).
    if argv and argv[0] in DISPATCH:
        return run_dispatched(argv, find_config(Path.cwd()))
    args = _parser().parse_args(argv)
    if args.command == "schema":
        sys.stdout.write(json_schema_text())
        return 0
    if args.command == "init":
        from .scaffold import init_project

        return init_project(args.directory, args.name)
    config = find_config(Path.cwd())
    if args.command == "check":
        return cmd_check(args, config)
    return cmd_build(args, config)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``entanglegen`` script; never lets a traceback out."""
    try:
        return run(argv)
    except SystemExit as exc:  # argparse: --help/--version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    except UsageError as exc:
        print(f"entanglegen: error: {exc}", file=sys.stderr)
        return 2
    except (RenderError, FormatError) as exc:
        print(f"entanglegen: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("entanglegen: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"entanglegen: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the last line of defence: one clear line, no traceback
        print(
            f"entanglegen: internal error: {type(exc).__name__}: {exc} "
            "(please report this with the schema that caused it)",
            file=sys.stderr,
        )
        return 2
