"""The pipeline end to end: schema files in, formatted modules (or diagnostics) out.

:func:`build` runs load → validate → resolve → IR → render → format for a whole project in
memory and returns what should be on disk; :mod:`entanglegen.writer` then writes it or
diffs it.  :func:`fingerprint` hashes everything the output depends on (schema bytes and
paths, generator sources, templates, black's version) so that an unchanged project can be
recognised without rendering.

The cyclic garbage collector is paused while a project is validated and rendered: those
stages build large, acyclic, long-lived trees (nodes, specs, IR), and the collector's full
passes over them made a 10,000-type project ~2x slower per type than a 1,000-type one
(measured by ``bench/generate.py --scaling``); reference counting still frees everything.
It is on again for black (whose trees hold cycles).

``layout`` picks the output layout (:mod:`entanglegen.dist`): bare import packages, or
each package inside an installable distribution with its own ``pyproject.toml``.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import multiprocessing
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from importlib.metadata import version as _distribution_version
from pathlib import Path

from . import __version__
from .diagnostics import Diagnostic, Diagnostics, Loc, UsageError
from .dist import DEFAULT_VERSION, pyproject_text
from .formatting import format_module
from .ir import build_ir
from .loader import load_file
from .render import make_environment, render_registry
from .resolve import resolve_project
from .schema import validate_file
from .spec import RegistrySpec

__all__ = [
    "BuildResult",
    "build",
    "discover",
    "display_path",
    "fingerprint",
    "schema_files",
    "validate",
]

SCHEMA_SUFFIXES = (".yaml", ".yml")


@dataclass
class BuildResult:
    """What a build produced: diagnostics, and files (relative path → bytes) if valid."""

    diagnostics: list[Diagnostic]
    files: dict[str, bytes] = field(default_factory=dict)
    ok: bool = False


def discover(paths: list[Path]) -> list[Path]:
    """Schema files named by ``paths``: files as given, directories searched recursively."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*")
                if p.suffix in SCHEMA_SUFFIXES and p.is_file()
            )
        else:
            found.append(path)
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return sorted(unique.values(), key=lambda p: p.as_posix())


def schema_files(paths: list[Path]) -> list[Path]:
    """:func:`discover` for a command line: a missing path or no file is a usage error.

    Raises:
        UsageError: a path does not exist, or the paths hold no schema file.
    """
    for path in paths:
        if not (path.exists() or path.is_symlink()):
            raise UsageError(f"no such file or directory: {path.as_posix()}")
    files = discover(paths)
    if not files:
        shown = ", ".join(p.as_posix() for p in paths)
        raise UsageError(f"no schema files (*.yaml, *.yml) in {shown}")
    return files


def display_path(path: Path, root: Path) -> str:
    """``path`` relative to the project root, with forward slashes."""
    try:
        return Path(os.path.relpath(path.resolve(), root.resolve())).as_posix()
    except ValueError:  # another drive on Windows
        return path.as_posix()


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # surrogates of undecodable bytes (surrogateescape)
        return False
    return True


def validate(files: list[Path], root: Path, diags: Diagnostics) -> list[RegistrySpec]:
    """Load, check and resolve every schema file; problems go to ``diags``."""
    with _collector_paused():
        return _validate(files, root, diags)


def _validate(files: list[Path], root: Path, diags: Diagnostics) -> list[RegistrySpec]:
    specs = []
    for file in files:
        shown = display_path(file, root)
        if not _is_utf8(shown):
            # The name goes into headers and diagnostics; it is printed escaped.
            diags.error(
                Loc(shown, 1, 1),
                "schema file name is not UTF-8",
                hint="rename the file",
            )
            continue
        node = load_file(file, shown, diags)
        spec = validate_file(node, shown, diags) if node is not None else None
        if spec is not None:
            specs.append(spec)
    resolve_project(specs, diags, root)
    return specs


def build(
    schemas: list[Path],
    *,
    root: Path,
    templates: Path | None = None,
    jobs: int | None = None,
    layout: str = "packages",
    version: str = DEFAULT_VERSION,
) -> BuildResult:
    """Generate the packages of a project, in memory.

    Args:
        schemas: schema files and/or directories holding them.
        root: the project root; headers and diagnostics show paths relative to it.
        templates: an optional directory whose templates override the packaged ones.
        jobs: processes formatting with black; None picks one per CPU for large
            projects (the output is the same either way).
        layout: ``"packages"`` (import packages at the top of the output) or
            ``"distribution"`` (each inside a directory with its ``pyproject.toml``).
        version: the version of the distributions (``"distribution"`` layout).

    Returns:
        The diagnostics (sorted) and, when there is no error, every output file.

    Raises:
        RenderError: a template failed (names the template).
        FormatError: black rejected a rendered module (names the template and where
            the unformatted source was dumped).
    """
    with _collector_paused():
        prepared = _render(schemas, root, templates, layout, version)
    if isinstance(prepared, BuildResult):
        return prepared
    diags, rendered, out = prepared
    # Black runs with the collector on (its trees hold cycles), here or in workers.
    for path, text in zip(
        (r[0] for r in rendered), _format_all(rendered, jobs), strict=True
    ):
        out[path] = text.encode("utf-8")
    return BuildResult(diags.sorted(), dict(sorted(out.items())), ok=True)


def _render(
    schemas: list[Path],
    root: Path,
    templates: Path | None,
    layout: str = "packages",
    version: str = DEFAULT_VERSION,
) -> BuildResult | tuple[Diagnostics, list[tuple[str, str, str]], dict[str, bytes]]:
    """Validate and render (unformatted); a BuildResult when there is nothing to format."""
    diags = Diagnostics()
    files = discover(schemas)
    if not files:
        return BuildResult([], {}, ok=True)
    specs = validate(files, root, diags)
    if not diags.has_errors:
        from .migrations import pending_diagnostics  # (imports this module)

        pending_diagnostics(specs, root, diags)  # a table change needs its revision
    if diags.has_errors:
        return BuildResult(diags.sorted())
    env = make_environment(templates)
    rendered: list[tuple[str, str, str]] = []
    out: dict[str, bytes] = {}
    for spec in specs:
        ir = build_ir(spec, spec.path, specs)
        # In the distribution layout every file of the package moves one level down.
        top = f"{ir.package}/" if layout == "distribution" else ""
        rendered += [
            (top + path, tpl, text)
            for path, (tpl, text) in render_registry(env, ir).items()
        ]
        out[f"{top}{ir.package}/py.typed"] = b""
        if top:
            text = pyproject_text(env, ir, version=version)
            out[f"{top}pyproject.toml"] = text.encode("utf-8")
    return diags, rendered, out


# Below this many modules, starting worker processes costs more than it saves.
_PARALLEL_THRESHOLD = 64


def _format_one(item: tuple[str, str, str]) -> str:
    path, template, text = item
    return format_module(text, template=template, output=path)


def _format_all(rendered: list[tuple[str, str, str]], jobs: int | None) -> list[str]:
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    if workers <= 1 or len(rendered) < _PARALLEL_THRESHOLD:
        return [_format_one(item) for item in rendered]
    # Black is CPU-bound pure work per module: processes give a near-linear speed-up, and
    # map() keeps the order, so the output does not depend on the number of workers.
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else None)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return list(pool.map(_format_one, rendered, chunksize=16))


def _black_version() -> str:
    """The installed black's version (part of every fingerprint)."""
    return _distribution_version("black")


def _generator_sources(templates: Path | None) -> list[tuple[str, bytes]]:
    items: list[tuple[str, bytes]] = []
    for package in ("entanglegen", "entanglegen.templates"):
        base = resources.files(package)
        for name, data in _walk(base, ""):
            items.append((f"{package}:{name}", data))
    if templates is not None:
        for path in sorted(templates.rglob("*.jinja")):
            items.append(
                (f"dir:{path.relative_to(templates).as_posix()}", path.read_bytes())
            )
    return items


def _walk(node: resources.abc.Traversable, prefix: str) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        name = f"{prefix}{child.name}"
        if child.is_dir() and child.name != "__pycache__":
            out += _walk(child, name + "/")
        elif child.is_file() and child.name.endswith((".py", ".jinja", ".json")):
            out.append((name, child.read_bytes()))
    return out


def fingerprint(
    schemas: list[Path],
    *,
    root: Path,
    templates: Path | None = None,
    layout: str = "packages",
    version: str = DEFAULT_VERSION,
) -> str:
    """A hash of everything the output of :func:`build` depends on."""
    digest = hashlib.sha256()
    digest.update(f"entanglegen {__version__} black {_black_version()}\0".encode())
    if layout != "packages":  # (so that the default's fingerprints stay as they were)
        digest.update(f"layout {layout} version {version}\0".encode())
    for name, data in _generator_sources(templates):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    for file in discover(schemas):
        try:
            data = file.read_bytes()
        except OSError:
            data = b"\0unreadable"
        digest.update(
            display_path(file, root).encode("utf-8", "surrogateescape")
            + b"\0"
            + hashlib.sha256(data).digest()
        )
    return digest.hexdigest()
