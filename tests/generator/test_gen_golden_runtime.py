"""Gate 1 for the golden outputs: the good cases import against the runtime, their SQL
mappers configure, their tables are created in a real SQLite file, and objects encode.

(``good_hostile`` has its own test; ``good_sql_all_types`` names hooks in a module
``inventory_hooks`` that this test provides.)
"""

from __future__ import annotations

import datetime
import importlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from gen_helpers import CASES, ROOT, read_tree

from entanglement.interface import Unique
from entanglement.sql import SqlSyncRegistry

INVENTORY_HOOKS = """
from typing import Any

def check_row(obj: Any, msg: Any, **info: Any) -> bool:
    return True

def recount(obj: Any, **info: Any) -> None:
    pass

def encode_barcode(value: str) -> str:
    return value.upper()

def decode_barcode(value: str) -> str:
    return value.lower()
"""


@pytest.fixture
def golden(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "inventory_hooks.py").write_text(INVENTORY_HOOKS)
    for case in ("good_memory_basic", "good_sql_all_types", "good_cross_file"):
        for rel, data in read_tree(CASES / case / "expected").items():
            path = tmp_path / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    sys.path.insert(0, str(tmp_path))
    before = set(sys.modules)
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in set(sys.modules) - before:
            if name.split(".")[0].endswith("_sync") or name == "inventory_hooks":
                del sys.modules[name]


def _create_tables(tmp: Path, *packages: str) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{tmp / 'golden.sqlite'}")
    SqlSyncRegistry.create_bookkeeping(engine)
    for package in packages:
        importlib.import_module(package).Base.metadata.create_all(engine)
    sa.orm.configure_mappers()
    return engine


def test_memory_golden(golden: Path) -> None:
    board = importlib.import_module("board_sync")
    stroke = board.Stroke(board="b1", number=3)
    other = board.Stroke(board="b1", number=4)
    assert stroke.points == []
    assert stroke.points is not other.points  # a fresh default per object
    assert stroke.to_sync() == {
        "board": "b1",
        "number": 3,
        "points": [],
        "width": 1.5,
        "closed": False,
    }
    note = board.Note(text="hi")
    assert board.Note.sync_primary_keys == Unique
    assert note.to_sync()["text"] == "hi"
    assert board.new_registry().get_syncable("Stroke") is board.Stroke


def test_sql_golden(golden: Path) -> None:
    inventory = importlib.import_module("inventory_sync")
    engine = _create_tables(golden, "inventory_sync")
    try:
        tables = set(sa.inspect(engine).get_table_names())
        assert {"warehouses", "item", "perishable"} <= tables
        columns = {c["name"]: c for c in sa.inspect(engine).get_columns("item")}
        assert columns["weight_kg"]["nullable"]
        assert not columns["name"]["nullable"]
        fks = sa.inspect(engine).get_foreign_keys("perishable")
        assert any(fk["referred_table"] == "item" for fk in fks)
        item = inventory.Perishable(
            warehouse="W1",
            name="milk",
            barcode="abc",
            expires_on=datetime.date(2026, 12, 1),
        )
        wire = item.to_sync()
        assert wire["barcode"] == "ABC"  # the custom encoder ran
        assert wire["expires_on"] == "2026-12-01"
        assert "internal_note" not in wire
        assert set(inventory.registry.operations) >= {
            "sync",
            "forward",
            "delete",
            "recount",
        }
        assert "create" not in inventory.registry.operations
    finally:
        engine.dispose()


def test_cross_file_golden(golden: Path) -> None:
    orders = importlib.import_module("orders_sync")
    live = importlib.import_module("live_sync")
    catalog = importlib.import_module("catalog_sync")
    engine = _create_tables(golden, "catalog_sync", "orders_sync")
    try:
        # Across registries a reference is the bare key: no foreign key between metadatas.
        fks = sa.inspect(engine).get_foreign_keys("order")
        assert [fk["referred_table"] for fk in fks] == ["sync_owners"]  # the runtime's
        order = orders.Order(number=1, product="SKU-1", region=catalog.Region.EU)
        assert order.to_sync()["region"] == "eu"
        viewer = live.Viewer(product="SKU-1", session=uuid.UUID(int=1))
        assert viewer.to_sync() == {
            "product": "SKU-1",
            "session": str(uuid.UUID(int=1)),
            "order": None,
        }
    finally:
        engine.dispose()


def test_every_good_golden_is_lint_clean(tmp_path: Path) -> None:
    # Undefined or unused names in a golden would only show at import time otherwise.
    for case in sorted(CASES.glob("good_*")):
        for rel, data in read_tree(case / "expected").items():
            path = tmp_path / case.name / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run(
        [str(ruff), "check", "--config", str(ROOT / "pyproject.toml"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _case_groups() -> list[list[Path]]:
    """The good cases in groups whose packages have distinct names (several cases name
    theirs shop_sync or board_sync: written into one directory they overwrote each
    other, and mypy saw only the last)."""
    groups: list[tuple[set[str], list[Path]]] = []
    for case in sorted(CASES.glob("good_*")):
        names = {p.name for p in (case / "expected").iterdir() if p.is_dir()}
        group = next((g for g in groups if not g[0] & names), None)
        if group is None:
            groups.append((set(names), [case]))
        else:
            group[0].update(names)
            group[1].append(case)
    return [cases for _, cases in groups]


HOOK_MODULES = (
    CASES / "good_sql_constraints" / "shop_tables.py",  # its table_args hook
    CASES / "good_type_hooks" / "board_ui.py",  # its on_receive/on_delete hooks
    CASES / "good_sql_type_hooks" / "notes_ui.py",
)


def test_case_groups_hold_every_good_case_once() -> None:
    groups = _case_groups()
    flat = [case for group in groups for case in group]
    assert sorted(flat) == sorted(CASES.glob("good_*"))
    assert len(groups) > 1  # the shop_sync cases are apart


@pytest.mark.parametrize("index", range(len(_case_groups())))
def test_every_good_golden_passes_mypy_strict(index: int, tmp_path: Path) -> None:
    packages = []
    for case in _case_groups()[index]:
        for rel, data in read_tree(case / "expected").items():
            path = tmp_path / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            packages.append(rel.split("/")[0])
    (tmp_path / "inventory_hooks.py").write_text(INVENTORY_HOOKS)
    for hook in HOOK_MODULES:
        (tmp_path / hook.name).write_bytes(hook.read_bytes())
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--follow-imports=silent",
            *sorted(set(packages)),
        ],
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(ROOT / "runtime")},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
