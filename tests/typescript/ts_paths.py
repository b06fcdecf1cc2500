"""Paths of the TypeScript tests, and the skip-or-fail rule for missing tools.

A module of its own (not conftest.py): test modules import it by a unique name, which
``from conftest import`` would not be when several test directories run together.
With ``ENTANGLEGEN_REQUIRE_NODE=1`` (for CI) a missing tool fails instead of skipping.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
GENERATED_TS = ROOT / "generated" / "typescript"
TSC = HERE / "node_modules" / "typescript" / "bin" / "tsc"


def missing(reason: str) -> None:
    """Skip for ``reason``, or fail where the tools are required (CI)."""
    if os.environ.get("ENTANGLEGEN_REQUIRE_NODE") == "1":
        pytest.fail(f"required by ENTANGLEGEN_REQUIRE_NODE=1: {reason}")
    pytest.skip(reason)
