"""The sub-commands ``entanglegen`` hands to their own command lines.

``pki`` and ``node`` (the runtime), ``demo`` (the example application), ``breaking`` and
``migrations`` parse their own options; they are imported only when used, so ``build``
works without the rest of the runtime.  Before any of them runs, the project's generated
packages are put on the import path (the output directory, and each distribution
directory of the ``distribution`` layout), so that ``entanglegen node --base
exercise_sync.Base`` works in a project without an install; ``demo`` first builds the
project's schemas (a no-op when up to date).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import writer
from .build import build, fingerprint
from .diagnostics import render

if TYPE_CHECKING:
    from .cli import Config

__all__ = ["DISPATCH", "run_dispatched"]

DISPATCH = {
    "pki": "entanglement.pki",
    "node": "entanglement.node",
    "demo": "entanglegen_examples.demo",
    "breaking": "entanglegen.breaking",
    "migrations": "entanglegen.migrations",
}


def _relative(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _build_for_demo(config: Config) -> int:
    """Build the project's schemas before the demo runs them (a no-op when up to date)."""
    if not any(path.exists() for path in config.schemas):
        return 0
    layout, version = config.layout, config.version
    stamp = fingerprint(
        config.schemas, root=config.root, layout=layout, version=version
    )
    if writer.is_up_to_date(config.output, stamp):
        return 0
    result = build(config.schemas, root=config.root, layout=layout, version=version)
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


def _import_roots(output: Path) -> list[Path]:
    """The directories the packages in ``output`` import from, in either layout."""
    if not output.is_dir():
        return []
    nested = sorted(d for d in output.iterdir() if (d / "pyproject.toml").is_file())
    return [output, *nested]


def run_dispatched(argv: list[str], config: Config) -> int:
    """Run ``argv[0]``'s own command line with the rest of ``argv``."""
    if argv[0] == "demo" and not {"-h", "--help"} & set(argv[1:]):
        code = _build_for_demo(config)
        if code:
            return code
    # The project's generated packages are importable by the dispatched tools, so
    # that e.g. ``entanglegen node --base exercise_sync.Base`` works in a project.
    for root in _import_roots(config.output):
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
    return _dispatch(DISPATCH[argv[0]], argv[1:])
