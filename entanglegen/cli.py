"""The ``entanglegen`` command line (also ``python -m entanglegen``).

Sub-commands: ``build``, ``check``, ``schema``, ``pki``, ``node``, ``demo``, ``breaking``,
``migrations``.  Paths default
to ``[tool.entanglegen]`` of the nearest pyproject.toml above the working directory
(``schemas`` and ``output``, relative to that file); the directory holding it is the
project root that headers and diagnostics are relative to.  ``pki`` and ``node`` are
imported only when used, so ``build`` works without the rest of the runtime.

Exit status: 0 success; 1 schema errors, or ``--check`` found differences; 2 usage error
or an internal error (reported in one line, never as a traceback).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import __version__, writer
from .build import build, discover, fingerprint, validate
from .diagnostics import Diagnostics, Level, render
from .formatting import FormatError
from .render import RenderError
from .schema import json_schema_text

__all__ = ["main"]


@dataclass(frozen=True)
class Config:
    root: Path
    schemas: list[Path]
    output: Path


def find_config(cwd: Path) -> Config:
    """Defaults from the nearest pyproject.toml's ``[tool.entanglegen]``."""
    for directory in (cwd, *cwd.parents):
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            try:
                data = tomllib.loads(pyproject.read_text("utf-8"))
            except (OSError, tomllib.TOMLDecodeError):
                continue
            tool = data.get("tool", {}).get("entanglegen", {})
            schemas = tool.get("schemas", ["schemas"])
            if isinstance(schemas, str):
                schemas = [schemas]
            return Config(
                root=directory,
                schemas=[directory / s for s in schemas],
                output=directory / str(tool.get("output", "generated")),
            )
    return Config(root=cwd, schemas=[cwd / "schemas"], output=cwd / "generated")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="entanglegen",
        description="Generate typed entanglement packages from YAML registry schemas.",
    )
    parser.add_argument(
        "--version", action="version", version=f"entanglegen {__version__}"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in (
        ("build", "validate schemas and write the generated packages"),
        ("check", "validate schemas only"),
    ):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument(
            "schemas", nargs="*", type=Path, help="schema files or directories"
        )
        cmd.add_argument(
            "--format",
            choices=("text", "json", "github"),
            default="text",
            help="diagnostics format (default: text)",
        )
        cmd.add_argument(
            "--fail-on-warning", action="store_true", help="treat warnings as errors"
        )
        if name == "build":
            cmd.add_argument("-o", "--output", type=Path, help="output directory")
            cmd.add_argument(
                "--templates", type=Path, help="directory overriding templates"
            )
            cmd.add_argument(
                "-j", "--jobs", type=int, help="black processes (default: one per CPU)"
            )
            cmd.add_argument(
                "--check",
                action="store_true",
                help="write nothing; print a diff and exit 1 if anything would change",
            )
    sub.add_parser("schema", help="print the JSON Schema of the schema language")
    # Listed for --help only: run() hands these to their own parsers.
    sub.add_parser("pki", help="certificates (entanglement.pki)")
    sub.add_parser("node", help="run a node (entanglement.node)")
    sub.add_parser("demo", help="two nodes on loopback converging to the same state")
    sub.add_parser(
        "breaking", help="report schema changes that break peers, databases or code"
    )
    sub.add_parser(
        "migrations", help="database revisions of the generated SQL packages"
    )
    return parser


def _failed(diags: Sequence[object], fail_on_warning: bool) -> bool:
    return any(
        d.level is Level.ERROR or (fail_on_warning and d.level is Level.WARNING)  # type: ignore[attr-defined]
        for d in diags
    )


def _relative(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def cmd_check(args: argparse.Namespace, config: Config) -> int:
    diags = Diagnostics()
    files = discover(args.schemas or config.schemas)
    if not files:
        print("entanglegen: no schema files found", file=sys.stderr)
        return 1
    validate(files, config.root, diags)
    items = diags.sorted()
    sys.stderr.write(render(items, args.format))
    return 1 if _failed(items, args.fail_on_warning) else 0


def cmd_build(args: argparse.Namespace, config: Config) -> int:
    schemas = args.schemas or config.schemas
    out_dir = args.output or config.output
    print_ = sys.stdout.write
    stamp = fingerprint(schemas, root=config.root, templates=args.templates)
    if not args.check and writer.is_up_to_date(out_dir, stamp):
        print_(f"entanglegen: {_relative(out_dir)} is up to date\n")
        return 0
    result = build(schemas, root=config.root, templates=args.templates, jobs=args.jobs)
    sys.stderr.write(render(result.diagnostics, args.format))
    if not result.ok or _failed(result.diagnostics, args.fail_on_warning):
        return 1
    if not result.files:
        print("entanglegen: no schema files found", file=sys.stderr)
        return 1
    plan = writer.plan(result.files, out_dir)
    if args.check:
        if plan.empty:
            return 0
        print_(writer.diff(plan, out_dir, _relative(out_dir)))
        changed = len(plan.write) + len(plan.delete)
        print(
            f"entanglegen: {changed} generated file(s) out of date; run "
            "'entanglegen build'",
            file=sys.stderr,
        )
        return 1
    writer.apply(plan, out_dir)
    writer.write_manifest(out_dir, result.files, stamp)
    print_(
        f"entanglegen: wrote {len(plan.write)}, removed {len(plan.delete)}, "
        f"unchanged {len(result.files) - len(plan.write)} file(s) in {_relative(out_dir)}\n"
    )
    return 0


def _build_for_demo(config: Config) -> int:
    """Build the project's schemas before the demo runs them (a no-op when up to date)."""
    if not any(path.exists() for path in config.schemas):
        return 0
    stamp = fingerprint(config.schemas, root=config.root)
    if writer.is_up_to_date(config.output, stamp):
        return 0
    result = build(config.schemas, root=config.root)
    if not result.ok:
        sys.stderr.write(render(result.diagnostics, "text"))
        print("entanglegen demo: the schemas have errors", file=sys.stderr)
        return 1
    writer.apply(writer.plan(result.files, config.output), config.output)
    writer.write_manifest(config.output, result.files, stamp)
    print(f"built {len(result.files)} files into {_relative(config.output)}")
    return 0


def _dispatch(module: str, argv: list[str]) -> int:
    try:
        target = importlib.import_module(module)
    except ImportError as exc:
        print(f"entanglegen: {module} is not available: {exc}", file=sys.stderr)
        return 2
    return int(target.main(argv) or 0)


_DISPATCH = {
    "pki": "entanglement.pki",
    "node": "entanglement.node",
    "demo": "entanglegen_examples.demo",
    "breaking": "entanglegen.breaking",
    "migrations": "entanglegen.migrations",
}


def run(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Hand the rest of the line to the dispatched tool untouched (argparse would try to
    # interpret its options).
    if argv and argv[0] in _DISPATCH:
        config = find_config(Path.cwd())
        if argv[0] == "demo" and not {"-h", "--help"} & set(argv[1:]):
            code = _build_for_demo(config)
            if code:
                return code
        # The project's generated packages are importable by the dispatched tools, so
        # that e.g. ``entanglegen node --base exercise_sync.Base`` works in a project.
        if config.output.is_dir() and str(config.output) not in sys.path:
            sys.path.insert(0, str(config.output))
        return _dispatch(_DISPATCH[argv[0]], argv[1:])
    args = _parser().parse_args(argv)
    config = find_config(Path.cwd())
    if args.command == "schema":
        sys.stdout.write(json_schema_text())
        return 0
    if args.command == "check":
        return cmd_check(args, config)
    return cmd_build(args, config)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``entanglegen`` script; never lets a traceback out."""
    try:
        return run(argv)
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
