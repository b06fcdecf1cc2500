"""Stage 5: format rendered modules with black, in process.

Black is pinned exactly in pyproject.toml because its output bytes are part of our output.
When black rejects a module (a template produced invalid Python) nothing is written: the
unformatted source is dumped to a temporary file and the error names the template, so the
broken template can be fixed from the dump.
"""

from __future__ import annotations

import tempfile

import black
from black.mode import Mode, TargetVersion

__all__ = ["MODE", "FormatError", "format_module"]

MODE = Mode(target_versions={TargetVersion.PY311}, line_length=88)


class FormatError(Exception):
    """Black could not format a rendered module."""


def format_module(source: str, *, template: str, output: str) -> str:
    """Black-format ``source`` (rendered from ``template`` for ``output``)."""
    try:
        return black.format_str(source, mode=MODE)
    except Exception as exc:  # black raises several unrelated types for invalid input
        with tempfile.NamedTemporaryFile(
            "w", suffix=".py", prefix="entanglegen-unformatted-", delete=False
        ) as dump:
            dump.write(source)
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FormatError(
            f"black could not format {output} rendered from template {template}: {first}; "
            f"unformatted source dumped to {dump.name}"
        ) from exc
