"""``entanglegen migrations``: the database revisions of the generated SQL packages.

Usage::

    entanglegen migrations new -m MSG [SCHEMAS...] [-o OUTPUT]
    entanglegen migrations check [SCHEMAS...] [-o OUTPUT]

Each SQL package keeps its history in ``OUTPUT/<package>/migrations/`` (in the
distribution layout, inside the import package: ``OUTPUT/<package>/<package>/…``): ``versions/``
holds Alembic revision files (``rev_0001_<msg>.py``, ``rev_0002_...``; 0001 is the
baseline that creates the tables), and ``schema_state.json`` the tables as the last
revision leaves them (:mod:`entanglegen.migrations_state`).  ``new`` compares that state
with the current schema and writes the next revision plus the new state; the first
``new`` of a package writes its baseline.  ``check`` exits 1 when a package's schema has
changed without a revision (or its state names a revision file that is missing), as
``entanglegen build`` does through :func:`pending_diagnostics` (there in the output
directory ``[tool.entanglegen]`` names, whatever ``-o`` says).  ``entanglegen node ...
upgrade`` applies the revisions (:mod:`entanglement.sql.upgrade`).

Choices: revision ids are sequence numbers (readable, deterministic, and two branches
that both add one conflict in git, on ``schema_state.json``, instead of forking the
chain); a package without a
``migrations`` directory is not managed (nothing is checked until its first ``new``); memory
packages have no tables and are skipped.  Exit status: 0 success (``new`` with no change
writes nothing and says so), 1 schema errors or pending changes, 2 usage errors (a
missing path, no schema file).
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .build import schema_files, validate
from .diagnostics import Diagnostics, UsageError, render
from .dist import import_package_dir
from .migrations_diff import diff_states, renames_of
from .migrations_render import render_revision, revision_filename
from .migrations_state import (
    State,
    dump_state,
    load_state,
    registry_state,
    same_tables,
)
from .spec import RegistrySpec

__all__ = [
    "MIGRATIONS_DIR",
    "Package",
    "main",
    "packages_of",
    "pending_diagnostics",
    "problems",
    "write_revision",
]

MIGRATIONS_DIR = "migrations"
STATE_FILE = "schema_state.json"
_REVISION_LINE = re.compile(r'^revision = "([^"]+)"$', re.MULTILINE)
_DOWN_LINE = re.compile(r'^down_revision = "([^"]+)"$', re.MULTILINE)
_INIT = '"""{what}"""\n'


class MigrationsError(Exception):
    """A problem with a package's migrations directory: one line, exit 1."""


@dataclass
class Package:
    """One SQL package: where its migrations live and how its state compares."""

    spec: RegistrySpec
    directory: Path
    committed: State | None
    current: State

    @property
    def pending(self) -> bool:
        return self.committed is None or not same_tables(self.committed, self.current)


def main(argv: list[str]) -> int:
    """Run ``entanglegen migrations``; returns the exit status, never raises."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse printed the usage (0 for --help) or an error
        return 0 if exc.code in (0, None) else 2
    try:
        return int(args.run(args))
    except MigrationsError as exc:
        print(f"entanglegen migrations: error: {exc}", file=sys.stderr)
        return 1
    except (UsageError, OSError) as exc:
        print(f"entanglegen migrations: error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="entanglegen migrations",
        description="The database revisions of the generated SQL packages: write the "
        "next revision after a schema change (new), or check that every change has "
        "one (check). Exit status: 0 success, 1 schema errors or pending changes, "
        "2 usage errors.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    new = sub.add_parser("new", help="write the next revision of each changed package")
    new.add_argument("-m", "--message", required=True, help="what the revision does")
    new.set_defaults(run=_cmd_new)
    check = sub.add_parser("check", help="exit 1 if a schema change has no revision")
    check.set_defaults(run=_cmd_check)
    for cmd in (new, check):
        cmd.add_argument("schemas", nargs="*", type=Path, help="schema files or dirs")
        cmd.add_argument("-o", "--output", type=Path, help="the generated directory")
    return parser


def _packages(args: argparse.Namespace) -> list[Package] | None:
    from .cli import find_config

    config = find_config(Path.cwd())
    files = schema_files(args.schemas or config.schemas)
    diags = Diagnostics()
    specs = validate(files, config.root, diags)
    sys.stderr.write(render(diags.sorted(), "text"))
    if diags.has_errors:
        return None
    return packages_of(specs, args.output or config.output)


def packages_of(specs: list[RegistrySpec], out_dir: Path) -> list[Package]:
    """The SQL packages of ``specs`` with their committed and current states."""
    found = []
    for spec in specs:
        if spec.storage != "sql":
            continue
        directory = import_package_dir(out_dir, spec.package.value) / MIGRATIONS_DIR
        committed = _committed(directory)
        revision = _next(committed) if committed else "0001"
        if committed is not None:
            # Compared with the committed state, a schema without change keeps its id.
            same = registry_state(spec, specs, committed["revision"])
            if same_tables(same, committed):
                found.append(Package(spec, directory, committed, same))
                continue
        current = registry_state(spec, specs, revision)
        found.append(Package(spec, directory, committed, current))
    return found


def _committed(directory: Path) -> State | None:
    path = directory / STATE_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return load_state(data)
    except ValueError as exc:
        raise MigrationsError(f"{path}: {exc}") from None


def _next(state: State) -> str:
    revision = str(state["revision"])
    if not revision.isdigit():
        raise MigrationsError(f"revision {revision!r} is not a sequence number")
    return f"{int(revision) + 1:04d}"


def _cmd_new(args: argparse.Namespace) -> int:
    packages = _packages(args)
    if packages is None:
        return 1
    if not packages:
        print("entanglegen migrations: no SQL package in these schemas")
        return 0
    for package in packages:
        if not package.pending:
            print(
                f"{package.spec.package.value}: no change since revision "
                f"{package.current['revision']}"
            )
            continue
        path = write_revision(package, args.message)
        print(f"wrote {_shown(path)}")
    return 0


def write_revision(package: Package, message: str) -> Path:
    """Write the next revision of ``package`` and its new state; return the file."""
    diff = diff_states(package.committed, package.current, renames_of(package.spec))
    revision = package.current["revision"]
    down = package.committed["revision"] if package.committed else None
    text = render_revision(
        package=package.spec.package.value,
        revision=revision,
        down_revision=down,
        message=message,
        source=package.spec.path,
        diff=diff,
    )
    versions = package.directory / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    for init, what in (
        (package.directory / "__init__.py", "Database revisions of this package."),
        (versions / "__init__.py", "Revision scripts (Alembic), oldest first."),
    ):
        if not init.exists():
            init.write_text(_INIT.format(what=what), "utf-8")
    path = versions / revision_filename(revision, message)
    path.write_text(text, "utf-8")
    (package.directory / STATE_FILE).write_bytes(dump_state(package.current))
    for note in diff.notes:
        print(f"{_shown(path)}: note: {note}", file=sys.stderr)
    return path


def _shown(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def problems(package: Package) -> list[str]:
    """Why ``package``'s migrations do not match its schema (empty when they do)."""
    name = package.spec.package.value
    if package.committed is None:
        return []  # not managed
    if package.pending:
        return [
            f"the tables of {name} changed since revision "
            f"{package.committed['revision']} and no revision covers it (run "
            "'entanglegen migrations new -m MSG')"
        ]
    return _chain_problems(name, package.directory / "versions", package.committed)


def _chain_problems(name: str, versions: Path, state: State) -> list[str]:
    """The revision files must form one line from a baseline to the state's revision."""
    revision = str(state["revision"])
    chain = _revisions(versions)
    if revision not in chain:
        return [
            f"{name}'s schema state is at revision {revision} but {versions} has no "
            "such revision file"
        ]
    children: dict[str | None, list[str]] = {}
    for rev, down in sorted(chain.items()):
        children.setdefault(down, []).append(rev)
    forks = {k: v for k, v in children.items() if len(v) > 1}
    if forks:
        down, revs = sorted(forks.items(), key=str)[0]
        return [
            f"{name}: revisions {', '.join(revs)} all follow {down or 'the start'} "
            f"(two branches each added one?): keep one line, then run "
            "'entanglegen migrations new -m MSG' for what the other did"
        ]
    heads = set(chain) - {d for d in chain.values() if d}
    if heads != {revision}:
        return [
            f"{name}'s schema state is at revision {revision} but the newest revision "
            f"in {versions} is {', '.join(sorted(heads))}"
        ]
    return []


def _revisions(versions: Path) -> dict[str, str | None]:
    """revision → down_revision of every revision file."""
    found: dict[str, str | None] = {}
    for path in versions.glob("*.py"):
        text = path.read_text("utf-8")
        match = _REVISION_LINE.search(text)
        if match:
            down = _DOWN_LINE.search(text)
            found[match.group(1)] = down.group(1) if down else None
    return found


def _cmd_check(args: argparse.Namespace) -> int:
    packages = _packages(args)
    if packages is None:
        return 1
    failed = False
    for package in packages:
        for problem in problems(package):
            print(f"{package.spec.path}: error: {problem}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


def pending_diagnostics(
    specs: list[RegistrySpec], root: Path, diags: Diagnostics
) -> None:
    """Report, at each registry, a managed SQL package whose change has no revision.

    Called by :func:`entanglegen.build.build`; the migrations are looked up in the
    project's configured output directory (``[tool.entanglegen] output`` of ``root``'s
    pyproject.toml, default ``generated``).
    """
    try:
        for package in packages_of(specs, _output_dir(root)):
            for problem in problems(package):
                diags.error(package.spec.registry.loc, problem, "package")
    except (MigrationsError, OSError) as exc:
        loc = specs[0].registry.loc if specs else None
        if loc is not None:
            diags.error(loc, f"cannot read the migrations: {exc}", "package")


def _output_dir(root: Path) -> Path:
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return root / "generated"
    tool = data.get("tool", {}).get("entanglegen", {})
    return root / str(tool.get("output", "generated"))
