"""TypeScript tests: the ``node`` fixture (node with TypeScript installed beside the
tests by ``npm ci --prefix tests/typescript``); see :mod:`ts_paths`."""

from __future__ import annotations

import shutil

import pytest
from ts_paths import HERE, TSC, missing


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
