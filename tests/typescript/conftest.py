"""TypeScript tests: paths, and skips with the reason when node or the npm packages
(``npm ci --prefix tests/typescript``) are missing."""

from __future__ import annotations

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
        pytest.skip("node is not installed (Debian: apt-get install nodejs npm)")
    if not TSC.exists():
        pytest.skip(f"TypeScript is not installed: run 'npm ci --prefix {HERE}'")
    return found
