"""The receive batch's insert (entanglement.sql.receive.insert) and existence query.

Rows inserted through the compiled driver ``executemany`` must be stored exactly as
Core's own ``executemany`` stores them, for every kind of column processing (a
TypeDecorator, dates, enums, JSON null, decimals, booleans), partial column sets and
both backends; the existence query (SQLite: ``json_each`` of one JSON array) must find
exactly the stored keys, whatever their type.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import oracle
from sqlalchemy.orm import Session

from entanglement.sql import GUID
from entanglement.sql.receive.insert import compile_insert, insert_rows
from entanglement.sql.receive.store import _key_conditions


class Colour(enum.Enum):
    red = "red"
    blue = "blue"


def _tables(meta: sa.MetaData, name: str) -> sa.Table:
    return sa.Table(
        name,
        meta,
        sa.Column("id", GUID, primary_key=True),
        sa.Column("label", sa.String(20)),
        sa.Column("at", sa.DateTime),
        sa.Column("day", sa.Date),
        sa.Column("colour", sa.Enum(Colour)),
        sa.Column("doc", sa.JSON(none_as_null=False)),
        sa.Column("price", sa.Numeric(10, 2)),
        sa.Column("flag", sa.Boolean),
        sa.Column("n", sa.Integer, server_default="7"),
    )


def _rows() -> list[dict[str, Any]]:
    at = dt.datetime(2026, 12, 3, 9, 30, 1, 250)
    return [
        {
            "id": uuid.uuid4(),
            "label": f"row {i}",
            "at": at + dt.timedelta(seconds=i),
            "day": dt.date(2026, 1, 1 + i),
            "colour": Colour.red if i % 2 else Colour.blue,
            "doc": None if i == 0 else {"i": i, "list": [1, "x"]},
            "price": decimal.Decimal(f"{i}.25"),
            "flag": i % 2 == 0,
            "n": i,
        }
        for i in range(5)
    ]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'insert.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = sa.create_engine(url)
    yield engine
    engine.dispose()


def _stored(engine: Any, table: sa.Table) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(table).order_by(table.c.label)).all()
    return [tuple(row) for row in rows]


def test_driver_insert_stores_what_core_stores(engine: Any) -> None:
    meta = sa.MetaData()
    ours, core = _tables(meta, "ours"), _tables(meta, "core")
    meta.create_all(engine)
    rows = _rows()
    partial = [{"id": uuid.uuid4(), "label": "partial"}]  # the others: defaults
    cache: dict[Any, Any] = {}
    with Session(engine) as session:
        insert_rows(session, ours, rows, cache)
        insert_rows(session, ours, partial, cache)
        insert_rows(session, ours, [dict(rows[0], id=uuid.uuid4())], cache)  # reused
        session.execute(core.insert(), rows)
        session.execute(core.insert(), partial)
        session.execute(core.insert(), [dict(rows[0], id=uuid.uuid4())])
        session.commit()
    assert len(cache) == 2  # one compiled insert per column set
    stored, expected = _stored(engine, ours), _stored(engine, core)
    assert [row[1:] for row in stored] == [row[1:] for row in expected]
    assert {row[0] for row in stored} >= {row["id"] for row in rows}
    by_label = {row[1]: row for row in stored}
    assert by_label["partial"][-1] == 7  # the server default applied
    assert by_label["row 0"][5] is None  # JSON null kept as null


def test_driver_insert_errors_are_the_databases(engine: Any) -> None:
    meta = sa.MetaData()
    table = _tables(meta, "dup")
    meta.create_all(engine)
    row = _rows()[:1]
    with Session(engine) as session:
        insert_rows(session, table, row, {})
        with pytest.raises(sa.exc.IntegrityError):
            insert_rows(session, table, row, {})  # the same key twice


def test_dialects_setting_input_sizes_use_cores_executemany() -> None:
    table = _tables(sa.MetaData(), "t")
    dialect = oracle.oracledb.dialect()  # type: ignore[no-untyped-call]
    assert compile_insert(table, ("id", "label"), dialect) is None


@pytest.mark.parametrize(
    ("kind", "keys"),
    [
        (GUID, [uuid.uuid4() for _ in range(5)]),
        (sa.Integer, [3, 1, 4, 15, 9]),
        (sa.String(10), ["a", "b'", 'c"', "d", ""]),
        (sa.LargeBinary, [b"a", b"\x00b", b"c"]),  # not JSON: the IN list
    ],
)
def test_existence_query_finds_exactly_the_stored_keys(
    engine: Any, kind: Any, keys: list[Any]
) -> None:
    meta = sa.MetaData()
    table = sa.Table("keyed", meta, sa.Column("k", kind, primary_key=True))
    meta.create_all(engine)
    stored, absent = keys[: len(keys) // 2 + 1], keys[len(keys) // 2 + 1 :]
    with Session(engine) as session:
        session.execute(table.insert(), [{"k": key} for key in stored])
        found: set[Any] = set()
        asked = [(key,) for key in keys]
        for condition, params in _key_conditions(session, [table.c.k], asked):
            found.update(session.scalars(sa.select(table.c.k).where(condition), params))
    assert found == set(stored)
    assert not found & set(absent)


def test_existence_query_of_composite_keys(engine: Any) -> None:
    meta = sa.MetaData()
    table = sa.Table(
        "pairs",
        meta,
        sa.Column("a", sa.Integer, primary_key=True),
        sa.Column("b", sa.String(5), primary_key=True),
    )
    meta.create_all(engine)
    with Session(engine) as session:
        session.execute(table.insert(), [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}])
        pk: list[Any] = [table.c.a, table.c.b]
        conditions: Callable[..., Any] = _key_conditions
        found = {
            tuple(row)
            for condition, params in conditions(session, pk, [(1, "x"), (2, "x")])
            for row in session.execute(sa.select(*pk).where(condition), params)
        }
    assert found == {(1, "x")}
