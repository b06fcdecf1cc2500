"""``on_receive`` / ``on_delete`` of a type, between two managers over TLS.

The package is the golden output of ``tests/cases/good_type_hooks`` (memory); its hooks
module ``board_ui`` records each call.  A received object calls its type's hook (a child
without hooks of its own calls its parent's), a received delete calls ``on_delete``, and
``info`` carries the operation and the registry.  The SQL case
(``tests/cases/good_sql_type_hooks``) checks the same between two SQL nodes on SQLite and
PostgreSQL (there the hook runs inside the receive transaction, before its commit).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
from gen_helpers import CASES
from test_gen_memory_roundtrip import _connect, run, wait_until
from test_gen_sql_constraints import _Node
from test_gen_sql_constraints import run as sql_run

from entanglement.network import SyncManager, SyncServer

CASE = CASES / "good_type_hooks"


@pytest.fixture(scope="module")
def board() -> Iterator[tuple[ModuleType, ModuleType]]:
    sys.path[:0] = [str(CASE / "expected"), str(CASE)]
    try:
        yield importlib.import_module("board_sync"), importlib.import_module("board_ui")
    finally:
        sys.path.remove(str(CASE / "expected"))
        sys.path.remove(str(CASE))


def test_type_hooks_are_called_on_the_receiving_node(
    board: tuple[ModuleType, ModuleType], pki: dict[str, Any]
) -> None:
    package, ui = board

    async def scenario() -> None:
        ra, rb = package.new_registry(), package.new_registry()
        a, b = pki["a"], pki["b"]
        srv = SyncServer(a.cert, 0, key=a.key, cafile=a.cafile, registries=[ra])
        cli = SyncManager(b.cert, 0, key=b.key, cafile=b.cafile, registries=[rb])
        async with srv, cli:
            await _connect(srv, cli, a, b)
            ui.CALLS.clear()
            stroke = package.Stroke(id=1, points=[0.5, 1.0])
            ra.store_synchronize(stroke)
            await wait_until(lambda: len(ui.CALLS) == 1)
            kind, got, operation = ui.CALLS[0]
            assert (kind, got.id, got.points, operation) == (
                "stroke",
                1,
                [0.5, 1.0],
                "sync",
            )
            assert got is not stroke  # the receiving node's object

            arrow = package.Arrow(id=2, head=2.0)
            ra.store_synchronize(arrow)
            await wait_until(lambda: len(ui.CALLS) == 2)
            assert ui.CALLS[1][0] == "stroke"  # inherited from Stroke
            assert type(ui.CALLS[1][1]) is package.Arrow

            sticker = package.Sticker(id=3, text="hello")
            ra.store_synchronize(sticker)
            await wait_until(lambda: len(ui.CALLS) == 3)
            assert ui.CALLS[2][0] == "sticker"
            assert ui.CALLS[2][2] is rb  # info["registry"]

            ra.store_synchronize(stroke, operation="delete")
            await wait_until(lambda: len(ui.CALLS) == 4)
            assert (ui.CALLS[3][0], ui.CALLS[3][1].id, ui.CALLS[3][2]) == (
                "erased",
                1,
                "delete",
            )
            assert 1 not in rb.store_for_class(package.Stroke)

    run(scenario())


@pytest.fixture(scope="module")
def notes() -> Iterator[tuple[ModuleType, ModuleType]]:
    case = CASES / "good_sql_type_hooks"
    sys.path[:0] = [str(case / "expected"), str(case)]
    try:
        yield importlib.import_module("notes_sync"), importlib.import_module("notes_ui")
    finally:
        sys.path.remove(str(case / "expected"))
        sys.path.remove(str(case))


def test_sql_type_hooks_over_tls(
    notes: tuple[ModuleType, ModuleType],
    pki: dict[str, Any],
    db_factory: Callable[[str], str],
) -> None:
    package, ui = notes

    async def scenario() -> None:
        a = await _Node(package, db_factory("a"), pki["a"]).start()
        b = await _Node(package, db_factory("b"), pki["b"]).start()
        try:
            ui.CALLS.clear()
            with a.registry.sessionmaker(manager=a.manager) as session:
                note = package.Note(text="hello")
                session.add(note)
                session.commit()
                key = note.id
            a.know(b, connect=False)
            b.know(a, connect=True)
            await wait_until(lambda: ("arrived", key, "hello") in ui.CALLS)
            # the hook runs inside the receive transaction; the row follows its commit
            await wait_until(lambda: b.get(package.Note, key) is not None)
            with a.registry.sessionmaker(manager=a.manager) as session:
                session.delete(session.get(package.Note, key))
                session.commit()
            await wait_until(lambda: ("removed", key, "delete") in ui.CALLS)
            await wait_until(lambda: b.get(package.Note, key) is None)
        finally:
            await b.stop()
            await a.stop()

    sql_run(scenario())


class _Broken(list[Any]):
    def append(self, item: Any) -> None:
        raise ValueError("a bug in the UI")


def test_a_failing_hook_keeps_the_row(
    notes: tuple[ModuleType, ModuleType],
    pki: dict[str, Any],
    db_factory: Callable[[str], str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    package, ui = notes
    monkeypatch.setattr(ui, "CALLS", _Broken())

    async def scenario() -> None:
        a = await _Node(package, db_factory("a"), pki["a"]).start()
        b = await _Node(package, db_factory("b"), pki["b"]).start()
        try:
            with a.registry.sessionmaker(manager=a.manager) as session:
                note = package.Note(text="kept")
                session.add(note)
                session.commit()
                key = note.id
            a.know(b, connect=False)
            b.know(a, connect=True)
            await wait_until(lambda: b.get(package.Note, key) is not None)
        finally:
            await b.stop()
            await a.stop()

    with caplog.at_level("ERROR", logger="entanglement"):
        sql_run(scenario())
    assert "hook failed for Note" in caplog.text
    assert "a bug in the UI" in caplog.text
