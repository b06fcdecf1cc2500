"""A hostile schema (tests/cases/good_hostile) yields inert, importable code.

Its strings try to break out of docstrings and literals (quotes, backslashes, triple
quotes) and to run ``__import__('builtins').PWNED = 1``; its names are keywords, builtins,
dunders and names the generated code itself uses.  The output must compile, import and
behave, and nothing of the schema may run.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from gen_helpers import CASES

from entanglegen.build import build

CASE = CASES / "good_hostile"


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[dict[str, bytes]]:
    result = build([CASE / "schemas"], root=CASE)
    assert result.ok
    for rel, data in result.files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    sys.path.insert(0, str(tmp_path))
    try:
        yield result.files
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("hostile_sync")]:
            del sys.modules[name]
        shutil.rmtree(tmp_path / "hostile_sync")


def _names(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
    return found


def test_schema_text_never_becomes_code(hostile: dict[str, bytes]) -> None:
    for rel, data in hostile.items():
        if not rel.endswith(".py"):
            continue
        names = _names(ast.parse(data, filename=rel))
        assert not names & {
            "PWNED",
            "system",
            "os",
            "SystemExit",
            "setattr",
            "__import__",
        }, rel


def test_hostile_package_imports_inertly(hostile: dict[str, bytes]) -> None:
    assert not hasattr(builtins, "PWNED")
    package = importlib.import_module("hostile_sync")
    models = importlib.import_module("hostile_sync.models")
    assert not hasattr(builtins, "PWNED")
    assert "PWNED" in str(package.__doc__)  # the text survived, as text
    obj = models.Import(self_="me", import_=1)
    assert obj.print == "'); __import__('builtins').PWNED = 1; ('"
    assert obj.str_ == '\\"""\\'
    assert obj.mode is models.ImportMode.IMPORT_OS
    assert obj.mode.value == "'; import os"
    assert obj.json_blob == {'"}': ["'''", "\\"]}
    assert models.Import.sync_type == "x\"); __import__('builtins').PWNED = 1 #"
    assert models.Import.__doc__.startswith("'''\"\"\"\\")
    wire = obj.to_sync()
    assert wire["self_"] == "me"
    assert wire["mode"] == "'; import os"
    assert {m.value for m in models.ImportMode} == {
        'a"b',
        "'; import os",
        "__class__",
        "None",
        "1st",
    }
    other = models.Print(id=3, uuid_=uuid.UUID(int=7))
    assert other.to_sync()["uuid_"] == str(uuid.UUID(int=7))
    registry = models.new_registry()
    assert registry.get_syncable("print") is models.Print
    assert registry.get_syncable("Exception") is models.Exception_
    assert not hasattr(builtins, "PWNED")
