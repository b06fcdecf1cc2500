"""Shared helpers of the generator tests: paths, the CLI in process, golden files."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

from entanglegen.cli import main

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "cases"


def run_cli(*args: str, cwd: Path = ROOT) -> tuple[int, str, str]:
    """Run ``entanglegen ARGS`` in process; return (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with _chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def _chdir(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def cases(*prefixes: str) -> list[Path]:
    return sorted(
        p for p in CASES.iterdir() if p.is_dir() and p.name.startswith(prefixes)
    )


def read_tree(directory: Path) -> dict[str, bytes]:
    if not directory.is_dir():
        return {}
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def write_tree(directory: Path, files: dict[str, bytes]) -> None:
    for stale in set(read_tree(directory)) - set(files):
        (directory / stale).unlink()
    for rel, data in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
