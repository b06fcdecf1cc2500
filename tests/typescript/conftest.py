"""TypeScript tests: paths, and skips with the reason when node or the npm packages
(``npm ci --prefix tests/typescript``) are missing.  With ``ENTANGLEGEN_REQUIRE_NODE=1``
(for CI) a missing tool fails the test instead of skipping it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
GENERATED_TS = ROOT / "generated" / "typescript"
TSC = HERE / "node_modules" / "typescript" / "bin" / "tsc"


@pytest.fixture(scope="session")
def node() -> str:
    """The node executable, with TypeScript installed beside the tests."""
    found = shutil.which("node")
    if found is None:
        missing("node is not installed (Debian: apt-get install nodejs npm)")
    if not TSC.exists():
        missing(f"TypeScript is not installed: run 'npm ci --prefix {HERE}'")
    assert found is not None
    return found


def missing(reason: str) -> None:
    """Skip for ``reason``, or fail where the tools are required (CI)."""
    if os.environ.get("ENTANGLEGEN_REQUIRE_NODE") == "1":
        pytest.fail(f"required by ENTANGLEGEN_REQUIRE_NODE=1: {reason}")
    pytest.skip(reason)
