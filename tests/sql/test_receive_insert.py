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
from sqlalchemy import String
from sqlalchemy.dialects import oracle
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from entanglement._hashes import DestHash
from entanglement.interface import no_sync_property
from entanglement.operations import sync
from entanglement.sql import (
    GUID,
    SqlSynchronizable,
    SqlSyncRegistry,
    SyncOwner,
    sync_session_maker,
)
from entanglement.sql.receive.batch import ReceiveBatch
from entanglement.sql.receive.insert import compile_insert, insert_rows
from entanglement.sql.receive.registry import SyncContext
from entanglement.sql.receive.store import _key_conditions
from entanglement.sql.schema.plan import row_plan


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


# -- a batch of new and stored rows: inserted unless stored, stored ones updated ----------

registry = SqlSyncRegistry()


class Base(SqlSynchronizable, DeclarativeBase):
    sync_registry = registry


class Shape(Base):
    # single-table inheritance: the batch inserts these unless their key is stored
    __tablename__ = "shape"
    __mapper_args__ = {  # noqa: RUF012
        "polymorphic_identity": "shape",
        "polymorphic_on": "kind",
    }
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = no_sync_property(mapped_column(String(20)))
    label: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(default=1)


class Circle(Shape):
    __mapper_args__ = {"polymorphic_identity": "circle"}  # noqa: RUF012


@pytest.fixture
def maker(engine: Any) -> Any:
    SqlSyncRegistry.create_bookkeeping(engine)
    Base.metadata.create_all(engine)
    return sync_session_maker(bind=engine, expire_on_commit=False)


def _owner(maker: Any, name: str) -> str:
    with maker() as session:
        owner = SyncOwner(dest_hash=DestHash.from_string(name), sync_serial=1)
        session.add(owner)
        session.commit()
        return str(owner.id)


def _receive(batch: ReceiveBatch, cls: Any, msg: dict[str, Any]) -> None:
    context = SyncContext(batch.session, batch=batch)
    info = {"context": context, "operation": sync, "sender": None}
    row = cls.sync_construct(msg, **info)
    row.sync_receive_constructed(msg, **info)
    batch.add(row, frozenset(k for k in msg if k[:1] != "_"))


def test_a_batch_inserts_new_rows_and_updates_stored_ones(
    maker: Any, caplog: pytest.LogCaptureFixture
) -> None:
    assert row_plan(Shape).single_table  # (the path this test is about)
    mine, other = _owner(maker, "peer"), _owner(maker, "another")
    batch = ReceiveBatch(maker)
    for i in (1, 2, 3):
        msg = {"id": i, "label": f"old {i}", "size": 5, "sync_serial": 1}
        _receive(batch, Shape, {**msg, "_sync_owner": other if i == 3 else mine})
    _receive(
        batch, Circle, {"id": 4, "label": "c", "sync_serial": 1, "_sync_owner": mine}
    )
    batch.commit()
    # 1: renamed (its size kept), 2: as it was, 3: another owner's (left as it is),
    # 4: stored as a circle, received as a shape (a circle is one); 5, 6: new
    for i, label in (
        (1, "new 1"),
        (3, "taken"),
        (4, "square"),
        (5, "new 5"),
        (6, "new 6"),
    ):
        _receive(
            batch,
            Shape,
            {"id": i, "label": label, "sync_serial": 2, "_sync_owner": mine},
        )
    batch.commit()
    assert not batch.failed
    with maker() as session:
        rows = session.execute(
            sa.select(
                Shape.id, Shape.kind, Shape.label, Shape.size, Shape.sync_serial
            ).order_by(Shape.id)
        ).all()
    assert [tuple(row) for row in rows] == [
        (1, "shape", "new 1", 5, 2),
        (2, "shape", "old 2", 5, 1),
        (3, "shape", "old 3", 5, 1),
        (4, "circle", "square", 1, 2),
        (5, "shape", "new 5", 1, 2),
        (6, "shape", "new 6", 1, 2),
    ]
    assert "ignoring Shape 3" in caplog.text.replace("(", "").replace(",)", "")
    assert "the stored row is a circle" not in caplog.text  # a circle is a shape


def test_a_row_stored_as_another_class_is_not_changed(
    maker: Any, caplog: pytest.LogCaptureFixture
) -> None:
    mine = _owner(maker, "peer")
    batch = ReceiveBatch(maker)
    _receive(
        batch, Shape, {"id": 7, "label": "plain", "sync_serial": 1, "_sync_owner": mine}
    )
    batch.commit()
    _receive(
        batch,
        Circle,
        {"id": 7, "label": "round", "sync_serial": 2, "_sync_owner": mine},
    )
    batch.commit()
    with maker() as session:
        rows = session.execute(sa.select(Shape.kind, Shape.label)).all()
    assert [tuple(row) for row in rows] == [("shape", "plain")]
    assert "the stored row is a shape" in caplog.text


# -- PostgreSQL: new rows of simple column types are written by COPY ---------------------


def _simple(meta: sa.MetaData, name: str) -> sa.Table:
    return sa.Table(
        name,
        meta,
        sa.Column("id", GUID, primary_key=True),
        sa.Column("label", sa.String(20)),
        sa.Column("n", sa.Integer),
        sa.Column("x", sa.Float),
        sa.Column("price", sa.Numeric(10, 3)),
        sa.Column("flag", sa.Boolean),
        sa.Column("day", sa.Date),
        sa.Column("note", sa.Text, server_default="none"),
    )


def _simple_rows() -> list[dict[str, Any]]:
    return [
        {
            "id": uuid.uuid4(),
            "label": text,
            "n": i - 2,
            "x": 0.1 * i if i != 3 else None,
            "price": decimal.Decimal(f"{i}.125"),
            "flag": i % 2 == 0,
            "day": dt.date(2026, 2, 1 + i),
        }
        for i, text in enumerate(
            ["plain", "tab\there", "line\nbreak", "back\\slash", ""]
        )
    ]


@pytest.mark.postgres
def test_copy_stores_what_core_stores(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        meta = sa.MetaData()
        ours, core = _simple(meta, "ours"), _simple(meta, "core")
        meta.create_all(engine)
        columns = tuple(_simple_rows()[0])
        compiled = compile_insert(ours, columns, engine.dialect)
        assert compiled is not None
        assert compiled.copy
        assert compile_insert(_tables(sa.MetaData(), "t"), ("id", "at"), engine.dialect)
        assert not compile_insert(  # (a timestamp: the INSERT, not COPY)
            _tables(sa.MetaData(), "t"), ("id", "at"), engine.dialect
        ).copy  # type: ignore[union-attr]
        rows = _simple_rows()
        with Session(engine) as session:
            assert insert_rows(session, ours, rows, {}) == len(rows)
            session.execute(core.insert(), rows)
            session.commit()
        stored, expected = _stored(engine, ours), _stored(engine, core)
        assert [row[1:] for row in stored] == [row[1:] for row in expected]
        assert {row[0] for row in stored} == {row["id"] for row in rows}
        assert {row[-1] for row in stored} == {"none"}  # the server default
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_copy_errors_are_the_databases(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        meta = sa.MetaData()
        table = _simple(meta, "dup")
        meta.create_all(engine)
        row = _simple_rows()[:1]
        with Session(engine) as session:
            insert_rows(session, table, row, {})
            with pytest.raises(sa.exc.IntegrityError, match="duplicate key"):
                insert_rows(session, table, row, {})
            session.rollback()
            insert_rows(session, table, _simple_rows()[1:2], {})  # usable again
            session.commit()
        assert len(_stored(engine, table)) == 1
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_connection_with_cursor_listeners_gets_inserts_not_copy(
    postgres_url: str,
) -> None:
    engine = sa.create_engine(postgres_url)
    seen: list[str] = []
    try:
        meta = sa.MetaData()
        table = _simple(meta, "watched")
        meta.create_all(engine)
        sa.event.listen(
            engine,
            "before_cursor_execute",
            lambda conn, cursor, statement, *rest: seen.append(statement),
        )
        rows = _simple_rows()
        with Session(engine) as session:
            insert_rows(session, table, rows, {})  # (Core's count: -1, unknown)
            session.commit()
        assert any(s.startswith("INSERT INTO watched") for s in seen), seen
        assert len(_stored(engine, table)) == len(rows)
    finally:
        engine.dispose()


def test_rows_in_any_order_go_in_key_order(tmp_path: Any) -> None:
    # SQLite's rowids tell the order the rows were inserted in
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'order.sqlite'}")
    try:
        meta = sa.MetaData()
        table = sa.Table(
            "ordered", meta, sa.Column("k", sa.String(5), primary_key=True)
        )
        meta.create_all(engine)
        with Session(engine) as session:
            insert_rows(session, table, [{"k": k} for k in "cab"], {}, any_order=True)
            insert_rows(session, table, [{"k": k} for k in "fde"], {})  # as given
            session.commit()
        with engine.connect() as conn:
            inserted = conn.exec_driver_sql("select k from ordered order by rowid")
            assert "".join(k for (k,) in inserted) == "abcfde"
    finally:
        engine.dispose()
