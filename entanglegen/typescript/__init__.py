"""The TypeScript target: an npm package per registry, for browser and Node peers.

``build(schema_dir, out_dir, check)`` is what ``entanglegen build --target typescript``
calls.  It validates the project with the same stages as the Python target (the IR's
input, :func:`entanglegen.build.validate`), turns each registry into the TypeScript IR
(:mod:`.model`) and renders it with the templates of ``templates/typescript/``
(:mod:`.render`).  Each package (``OUT/<package>/``) holds ``package.json``,
``tsconfig.json`` (strict) and ``src/``: typed classes for every type, enums, codecs
byte-compatible with the Python side, and the client runtime (connect, synchronize,
receive events, responses, reconnect with backoff, coalescing) over a WebSocket endpoint
of :mod:`entanglement.websocket`.  No ``any`` appears in the generated code.

The output is deterministic (no time stamps, sorted where order is not the schema's).
``OUT/MANIFEST.json`` lists the files the last build wrote, so a later build removes
the files of a registry that is gone and ``check`` reports them.  ``check`` writes
nothing and returns 1 when a file differs, is missing or is stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..build import discover, validate
from ..diagnostics import Diagnostics, summary
from ..diagnostics import render as render_diagnostics
from .model import build_package
from .render import make_environment, render_package

__all__ = ["build", "generate"]

MANIFEST = "MANIFEST.json"


def generate(
    schema_dir: Path, root: Path | None = None
) -> tuple[Diagnostics, dict[str, bytes]]:
    """Validate the schemas under ``schema_dir`` and render every package in memory.

    Returns:
        The diagnostics and, when there is no error, the files by relative path.
    """
    root = root if root is not None else Path.cwd()
    diags = Diagnostics()
    specs = validate(discover([schema_dir]), root, diags)
    if diags.has_errors:
        return diags, {}
    env = make_environment()
    files: dict[str, bytes] = {}
    for spec in specs:
        files.update(render_package(env, build_package(spec, specs, diags)))
    if diags.has_errors:
        return diags, {}
    listing = {"generator": "entanglegen typescript", "files": sorted(files)}
    files[MANIFEST] = (json.dumps(listing, indent=2) + "\n").encode("utf-8")
    return diags, dict(sorted(files.items()))


def build(schema_dir: Path, out_dir: Path, check: bool) -> int:
    """Generate (or with ``check``, compare) the TypeScript packages.

    Args:
        schema_dir: the directory of schema files (searched recursively).
        out_dir: where the packages go (``generated/typescript`` in this project).
        check: compare with what is on disk instead of writing.

    Returns:
        0 on success; 1 for schema errors or, with ``check``, any difference.
    """
    if not schema_dir.exists():
        print(f"entanglegen: {schema_dir}: no such schema directory", file=sys.stderr)
        return 2
    diags, files = generate(schema_dir)
    items = diags.sorted()
    if items:
        sys.stderr.write(render_diagnostics(items, "text"))
    if diags.has_errors:
        print(summary(items), file=sys.stderr)
        return 1
    stale = sorted(set(_previous(out_dir)) - set(files))
    if check:
        return _check(out_dir, files, stale)
    for path in stale:
        (out_dir / path).unlink(missing_ok=True)
    written = 0
    for path, data in files.items():
        target = out_dir / path
        if target.exists() and target.read_bytes() == data:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written += 1
    print(f"entanglegen: typescript: {written} file(s) written, {len(stale)} removed")
    return 0


def _previous(out_dir: Path) -> list[str]:
    try:
        listing = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    files = listing.get("files") if isinstance(listing, dict) else None
    return [f for f in files if isinstance(f, str)] if isinstance(files, list) else []


def _check(out_dir: Path, files: dict[str, bytes], stale: list[str]) -> int:
    problems = [f"{out_dir / path}: stale (no schema generates it)" for path in stale]
    for path, data in files.items():
        target = out_dir / path
        if not target.exists():
            problems.append(f"{target}: missing")
        elif target.read_bytes() != data:
            problems.append(f"{target}: differs from what the schemas generate")
    for line in problems:
        print(f"entanglegen: {line}", file=sys.stderr)
    if problems:
        print(
            "entanglegen: typescript output is out of date; run the build",
            file=sys.stderr,
        )
        return 1
    return 0
