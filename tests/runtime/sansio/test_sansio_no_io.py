"""The sans-IO core imports no I/O module, directly or through the package."""

from __future__ import annotations

import ast
from pathlib import Path

import entanglement._sansio

FORBIDDEN = {"asyncio", "ssl", "socket", "selectors", "trio", "anyio"}
ALLOWED_INTERNAL = {"entanglement._exceptions"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_sansio_modules_import_no_io() -> None:
    package = Path(entanglement._sansio.__file__).parent
    files = sorted(package.glob("*.py"))
    assert len(files) >= 5
    for path in files:
        for name in _imports(path):
            assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"
            if name.startswith("entanglement"):
                allowed = name in ALLOWED_INTERNAL or name.startswith(
                    "entanglement._sansio"
                )
                assert allowed, f"{path.name} imports {name}"


def test_exception_module_imports_no_io() -> None:
    import entanglement._exceptions as exc_module

    names = _imports(Path(exc_module.__file__))
    assert not {n.split(".")[0] for n in names} & FORBIDDEN


def test_importing_the_core_loads_no_io_module() -> None:
    # h11-style: import the core in a fresh interpreter and look at sys.modules.  The
    # package's __init__ (which re-exports the networking layer) is bypassed with a bare
    # package object, so only the core and what it imports get loaded.
    import subprocess
    import sys

    package_dir = Path(entanglement._sansio.__file__).parent.parent
    code = f"""
import sys, types
pkg = types.ModuleType("entanglement")
pkg.__path__ = [{str(package_dir)!r}]
sys.modules["entanglement"] = pkg
import entanglement._sansio
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({sorted(FORBIDDEN)!r}))
print(",".join(loaded))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
