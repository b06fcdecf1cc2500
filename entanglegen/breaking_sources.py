"""Where ``entanglegen breaking`` reads each side's schema files: disk, a directory, git.

* the new side: the schema files and directories given (or the project's), from disk;
* ``--against DIR``: every ``*.yaml``/``*.yml`` under DIR, or that one file (a path that
  exists wins over a git ref of the same name);
* ``--against REF``: the same paths as the new side, as they are in git commit REF
  (``git ls-tree`` / ``git show``, run in the project root, which must be in a work tree).

Every file is shown relative to the project root, so an old file and its new version
have the same name in the report.  A ref that does not exist, or git missing, is a
:class:`UsageError` (exit status 2).
"""

from __future__ import annotations

import subprocess
from pathlib import Path, PurePosixPath

from .breaking_model import Source
from .build import SCHEMA_SUFFIXES, discover, display_path

__all__ = ["UsageError", "from_disk", "from_git"]


class UsageError(Exception):
    """A problem with the command line or its environment (exit status 2)."""


def from_disk(paths: list[Path], root: Path) -> list[Source]:
    """The schema files named by ``paths`` (files, or directories searched recursively)."""
    sources = []
    for file in discover(paths):
        shown = display_path(file, root)
        try:
            text = file.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UsageError(f"{shown}: not UTF-8: {exc.reason}") from None
        except OSError as exc:
            raise UsageError(f"{shown}: cannot read: {exc.strerror}") from None
        sources.append(Source(shown, text))
    return sources


def _git(root: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, check=False, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"cannot run git: {exc}") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UsageError(f"git {args[0]} failed: {message[-1] if message else ''}")
    return done.stdout


def from_git(ref: str, paths: list[Path], root: Path) -> list[Source]:
    """The schema files under ``paths`` as they are in commit ``ref``."""
    if ref.startswith("-"):
        raise UsageError(f"{ref!r} is neither a directory nor a git ref")
    try:
        _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except UsageError:
        raise UsageError(
            f"{ref!r} is neither a directory nor a git ref of {root}"
        ) from None
    top = Path(_git(root, "rev-parse", "--show-toplevel").decode().strip())
    wanted = []
    for path in paths:
        try:
            wanted.append(path.resolve().relative_to(top.resolve()).as_posix())
        except ValueError:
            raise UsageError(f"{path} is outside the git work tree {top}") from None
    listed = _git(top, "ls-tree", "-r", "-z", "--name-only", ref, "--", *wanted)
    names = sorted(
        {
            n
            for n in listed.decode("utf-8", "surrogateescape").split("\0")
            if n and PurePosixPath(n).suffix in SCHEMA_SUFFIXES
        }
    )
    sources = []
    for name in names:
        shown = display_path(top / name, root)
        data = _git(top, "show", f"{ref}:{name}")
        try:
            sources.append(Source(shown, data.decode("utf-8")))
        except UnicodeDecodeError as exc:
            raise UsageError(f"{ref}:{name}: not UTF-8: {exc.reason}") from None
    return sources
