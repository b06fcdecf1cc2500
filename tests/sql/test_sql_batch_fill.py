"""Batched rows are filled and stored by the fast path with the object model's rules.

The batched receive path (plain ``sync`` floods) fills plain column properties through
the row's ``__dict__`` and inserts new rows with a Core ``executemany`` per table;
anything the fast path cannot take (validators, undecodable values, unknown keys) goes
through the object model, with its errors, and shapes the per-table plan does not cover
go through the ORM bulk INSERT.  These tests drive the path with a real ReceiveBatch on a
real SQLite file and a real PostgreSQL schema, and compare what is stored with what the
ORM stores for the same values.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    mapped_column,
    validates,
    with_polymorphic,
)

from entanglement._hashes import DestHash
from entanglement.interface import SyncBadEncodingError, no_sync_property
from entanglement.operations import sync
from entanglement.sql import (
    GUID,
    SqlSynchronizable,
    SqlSyncRegistry,
    SyncOwner,
    sync_session_maker,
)
from entanglement.sql.receive.batch import ReceiveBatch
from entanglement.sql.receive.registry import SyncContext

registry = SqlSyncRegistry()


class Base(SqlSynchronizable, DeclarativeBase):
    sync_registry = registry


class Probe(Base):
    __tablename__ = "probe"
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(40))
    seen: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    level: Mapped[int] = mapped_column(default=7)


class Token(Base):
    # keys the existence probe sends as an array on PostgreSQL: binary and composite
    __tablename__ = "token"
    key: Mapped[bytes] = mapped_column(sa.LargeBinary(16), primary_key=True)
    label: Mapped[str] = mapped_column(String(40))


class Pair(Base):
    __tablename__ = "pair"
    left: Mapped[int] = mapped_column(primary_key=True)
    right: Mapped[str] = mapped_column(String(10), primary_key=True)
    label: Mapped[str] = mapped_column(String(40))


class Gadget(Base):
    # joined-table inheritance: the child's key is the parent's key property
    __tablename__ = "gadget"
    __mapper_args__ = {  # noqa: RUF012
        "polymorphic_identity": "gadget",
        "polymorphic_on": "kind",
    }
    kind: Mapped[str] = no_sync_property(mapped_column(String(20)))
    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    label: Mapped[str | None] = mapped_column(String(40), nullable=True, default="new")
    extra: Mapped[Any] = mapped_column(sa.JSON, nullable=True)


class Phone(Gadget):
    __tablename__ = "phone"
    __mapper_args__ = {"polymorphic_identity": "phone"}  # noqa: RUF012
    id: Mapped[uuid.UUID] = mapped_column(
        GUID, ForeignKey("gadget.id"), primary_key=True
    )
    number: Mapped[str] = mapped_column(String(20))


class Tablet(Gadget):
    # the child's key column is another property: the ORM copies the parent's key
    # into it at flush, so this class takes the ORM bulk INSERT
    __tablename__ = "tablet"
    __mapper_args__ = {"polymorphic_identity": "tablet"}  # noqa: RUF012
    tablet_id: Mapped[uuid.UUID] = no_sync_property(
        mapped_column(GUID, ForeignKey("gadget.id"), primary_key=True)
    )
    size: Mapped[int] = mapped_column(default=10)


class Checked(Base):
    __tablename__ = "checked"
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(40))

    @validates("label")
    def _upper(self, key: str, value: str) -> str:
        return value.upper()


@pytest.fixture
def maker(db_url: str) -> Any:
    engine = sa.create_engine(db_url)
    SqlSyncRegistry.create_bookkeeping(engine)
    Base.metadata.create_all(engine)
    yield sync_session_maker(bind=engine, expire_on_commit=False)
    engine.dispose()


def _remote_owner(maker: Any) -> str:
    with maker() as session:
        owner = SyncOwner(dest_hash=DestHash.from_string("peer"), sync_serial=1)
        session.add(owner)
        session.commit()
        return str(owner.id)


def _receive(batch: ReceiveBatch, cls: Any, msg: dict[str, Any]) -> Any:
    context = SyncContext(batch.session, batch=batch)
    info = {"context": context, "operation": sync, "sender": None}
    row = cls.sync_construct(msg, **info)
    row.sync_receive_constructed(msg, **info)
    batch.add(row, frozenset(k for k in msg if k[:1] != "_"))
    return row


def _stored(maker: Any, cls: Any) -> list[Any]:
    with maker() as session:
        return list(session.scalars(sa.select(cls).order_by(cls.id)))


def test_batched_rows_are_decoded_and_stored_partial_rows_get_defaults(maker) -> None:
    owner = _remote_owner(maker)
    batch = ReceiveBatch(maker)
    full = {"id": 1, "label": "a", "seen": "2024-05-01T10:00:00", "level": 3}
    _receive(batch, Probe, {**full, "sync_serial": 4, "_sync_owner": owner})
    partial = {"id": 2, "label": "b", "sync_serial": 5, "_sync_owner": owner}
    _receive(batch, Probe, partial)
    batch.commit()
    assert not batch.failed
    rows = [
        (p.id, p.label, p.seen, p.level, p.sync_serial) for p in _stored(maker, Probe)
    ]
    assert rows == [
        (1, "a", dt.datetime(2024, 5, 1, 10), 3, 4),
        (2, "b", None, 7, 5),
    ]
    assert {str(p.sync_owner_id) for p in _stored(maker, Probe)} == {owner}


def test_an_undecodable_value_is_the_object_models_error(maker) -> None:
    owner = _remote_owner(maker)
    batch = ReceiveBatch(maker)
    msg = {"id": 1, "label": "a", "seen": "not a time", "_sync_owner": owner}
    with pytest.raises(SyncBadEncodingError, match="seen"):
        _receive(batch, Probe, msg)
    unknown = {"id": 2, "label": "a", "colour": "red", "_sync_owner": owner}
    with pytest.raises(SyncBadEncodingError, match="no sync property 'colour'"):
        _receive(batch, Probe, unknown)
    batch.commit()
    assert _stored(maker, Probe) == []


def test_validators_still_run_on_batched_rows(maker) -> None:
    owner = _remote_owner(maker)
    batch = ReceiveBatch(maker)
    _receive(
        batch,
        Checked,
        {"id": 1, "label": "quiet", "sync_serial": 1, "_sync_owner": owner},
    )
    batch.commit()
    assert [c.label for c in _stored(maker, Checked)] == ["QUIET"]


def test_an_existing_row_is_updated_with_the_message_attributes_only(maker) -> None:
    owner = _remote_owner(maker)
    batch = ReceiveBatch(maker)
    _receive(
        batch,
        Probe,
        {"id": 1, "label": "a", "level": 1, "sync_serial": 1, "_sync_owner": owner},
    )
    batch.commit()
    _receive(
        batch,
        Probe,
        {"id": 1, "label": "renamed", "sync_serial": 2, "_sync_owner": owner},
    )
    batch.commit()
    assert [(p.label, p.level) for p in _stored(maker, Probe)] == [("renamed", 1)]


def test_a_row_of_another_owner_is_not_taken_over(maker, caplog) -> None:
    first, second = _remote_owner(maker), _remote_owner(maker)
    batch = ReceiveBatch(maker)
    _receive(
        batch, Probe, {"id": 1, "label": "a", "sync_serial": 1, "_sync_owner": first}
    )
    batch.commit()
    _receive(
        batch,
        Probe,
        {"id": 1, "label": "stolen", "sync_serial": 2, "_sync_owner": second},
    )
    batch.commit()
    assert [(p.label, str(p.sync_owner_id)) for p in _stored(maker, Probe)] == [
        ("a", first)
    ]
    assert "ignoring Probe" in caplog.text


def test_a_batch_commits_within_a_running_loop(maker) -> None:
    # the real path: rows pile up and the commit is scheduled on the loop
    async def scenario() -> None:
        from entanglement.sql.receive.batch import COMMIT_DELAY
        from entanglement.sql.receive.registry import batch_context

        owner = _remote_owner(maker)

        class Manager:  # batch_context only keys its state on the manager object
            pass

        manager = Manager()
        for i in range(3):
            with batch_context(manager, maker) as context:
                info = {"context": context, "operation": sync, "sender": None}
                msg = {
                    "id": i,
                    "label": f"r{i}",
                    "sync_serial": i,
                    "_sync_owner": owner,
                }
                row = Probe.sync_construct(msg, **info)
                row.sync_receive_constructed(msg, **info)
                context.batch.add(row, frozenset({"label"}))
        await asyncio.sleep(COMMIT_DELAY * 4)
        assert [p.label for p in _stored(maker, Probe)] == ["r0", "r1", "r2"]

    asyncio.run(asyncio.wait_for(scenario(), 10))


class _ManualClockLoop(asyncio.SelectorEventLoop):
    # an event loop whose clock moves only when the test says: timers fire by it
    now = 1000.0

    def time(self) -> float:
        return self.now


def test_a_flood_commits_at_the_latest_after_max_delay_and_a_burst_when_it_ends(
    maker,
) -> None:
    from entanglement.sql.receive.batch import COMMIT_DELAY, MAX_DELAY
    from entanglement.sql.receive.registry import batch_context

    owner = _remote_owner(maker)

    class Manager:  # batch_context only keys its state on the manager object
        pass

    manager = Manager()
    loop = _ManualClockLoop()
    step = COMMIT_DELAY / 2  # rows come faster than a burst's end is noticed

    def receive(i: int) -> Any:
        with batch_context(manager, maker) as context:
            info = {"context": context, "operation": sync, "sender": None}
            msg = {"id": i, "label": f"r{i}", "sync_serial": 1, "_sync_owner": owner}
            row = Probe.sync_construct(msg, **info)
            row.sync_receive_constructed(msg, **info)
            context.batch.add(row, frozenset({"label"}))
            return context.batch

    async def scenario() -> tuple[int, int, int]:
        start = loop.now
        i = 0
        while loop.now - start < MAX_DELAY - step:  # a flood shorter than MAX_DELAY
            batch = receive(i)
            i += 1
            loop.now += step
            await asyncio.sleep(0)
        during = len(_stored(maker, Probe))
        while loop.now - start < MAX_DELAY + 2 * step:  # the flood goes on
            batch = receive(i)
            i += 1
            loop.now += step
            await asyncio.sleep(0)
        after_max_delay = len(_stored(maker, Probe))
        loop.now += 2 * COMMIT_DELAY  # the flood is over
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert not batch.scheduled
        return during, after_max_delay, i

    try:
        during, after_max_delay, sent = loop.run_until_complete(scenario())
    finally:
        loop.close()
    assert during == 0  # still coming: nothing committed yet
    assert 0 < after_max_delay < sent  # committed by MAX_DELAY despite the flood
    assert len(_stored(maker, Probe)) == sent  # the rest once the burst was over


def test_owner_ids_are_uuids_in_the_stored_rows(maker) -> None:
    owner = _remote_owner(maker)
    batch = ReceiveBatch(maker)
    _receive(
        batch, Probe, {"id": 5, "label": "x", "sync_serial": 1, "_sync_owner": owner}
    )
    batch.commit()
    (row,) = _stored(maker, Probe)
    assert row.sync_owner_id == uuid.UUID(owner)


def _gadgets(maker: Any) -> dict[uuid.UUID, tuple[Any, ...]]:
    # every stored column of the gadget hierarchy but the keys (JSON null told apart
    # from SQL NULL), by key
    outer = with_polymorphic(Gadget, "*")
    with maker() as session:
        rows = session.execute(
            sa.select(outer, outer.extra.is_(None).label("sql_null"))
        ).all()
        result = {}
        for obj, sql_null in rows:
            mapper = sa.inspect(type(obj))
            values = tuple(
                (p.key, getattr(obj, p.key))
                for p in mapper.column_attrs
                if p.key not in ("id", "tablet_id")
            )
            result[obj.id] = (type(obj).__name__, values, sql_null)
        return result


def test_joined_inheritance_rows_are_stored_as_the_orm_stores_them(maker) -> None:
    owner = _remote_owner(maker)
    messages = {
        "phone full": (Phone, {"label": "p", "number": "123", "extra": {"a": 1}}),
        "phone nulls": (Phone, {"label": None, "number": "9", "extra": None}),
        "phone partial": (Phone, {"number": "7"}),
        "tablet": (Tablet, {"label": "t", "extra": [1, 2]}),
        "tablet nulls": (Tablet, {"label": None, "size": 3, "extra": None}),
        "gadget": (Gadget, {"label": "g"}),
    }
    batch = ReceiveBatch(maker)
    received: dict[str, uuid.UUID] = {}
    for name, (cls, values) in messages.items():
        received[name] = uuid.uuid4()
        msg = {"id": str(received[name]), **values}
        _receive(batch, cls, {**msg, "sync_serial": 3, "_sync_owner": owner})
    batch.commit()
    assert not batch.failed
    by_orm: dict[str, uuid.UUID] = {}
    with maker() as session:
        for name, (cls, values) in messages.items():
            by_orm[name] = uuid.uuid4()
            session.add(
                cls(
                    id=by_orm[name],
                    sync_serial=3,
                    sync_owner_id=uuid.UUID(owner),
                    **values,
                )
            )
        session.commit()
    stored = _gadgets(maker)
    # the received keys were kept (none replaced by a default), and each received row
    # holds what the ORM stores for the same values: class, defaults, JSON null
    assert set(stored) == {*received.values(), *by_orm.values()}
    assert {name: stored[key] for name, key in received.items()} == {
        name: stored[key] for name, key in by_orm.items()
    }


def test_a_row_stored_as_another_class_is_not_replaced(maker, caplog) -> None:
    owner = _remote_owner(maker)
    key = uuid.uuid4()
    batch = ReceiveBatch(maker)
    msg = {"id": str(key), "label": "plain", "sync_serial": 1, "_sync_owner": owner}
    _receive(batch, Gadget, msg)
    batch.commit()
    msg = {"id": str(key), "number": "1", "sync_serial": 2, "_sync_owner": owner}
    _receive(batch, Phone, msg)
    batch.commit()
    assert not batch.failed
    assert [(type(g).__name__, g.label) for g in _stored(maker, Gadget)] == [
        ("Gadget", "plain")
    ]
    assert "the stored row is a gadget" in caplog.text


def test_an_existing_joined_row_is_updated_in_both_tables(maker) -> None:
    owner = _remote_owner(maker)
    key = str(uuid.uuid4())
    batch = ReceiveBatch(maker)
    first = {"id": key, "label": "a", "number": "1", "extra": {"x": 1}}
    _receive(batch, Phone, {**first, "sync_serial": 1, "_sync_owner": owner})
    batch.commit()
    second = {"id": key, "label": "b", "number": "2"}
    _receive(batch, Phone, {**second, "sync_serial": 2, "_sync_owner": owner})
    batch.commit()
    (phone,) = _stored(maker, Phone)
    assert (phone.label, phone.number, phone.extra, phone.sync_serial) == (
        "b",
        "2",
        {"x": 1},
        2,
    )


def test_a_parent_class_message_updates_a_stored_subclass_row(maker) -> None:
    # as outside batches: the stored row *is* a Gadget, so a Gadget message names it
    owner = _remote_owner(maker)
    key = str(uuid.uuid4())
    batch = ReceiveBatch(maker)
    phone = {"id": key, "label": "a", "number": "1", "sync_serial": 1}
    _receive(batch, Phone, {**phone, "_sync_owner": owner})
    batch.commit()
    gadget = {"id": key, "label": "renamed", "sync_serial": 2}
    _receive(batch, Gadget, {**gadget, "_sync_owner": owner})
    batch.commit()
    assert not batch.failed
    assert [(type(g).__name__, g.label, g.number) for g in _stored(maker, Phone)] == [
        ("Phone", "renamed", "1")
    ]


def test_binary_and_composite_keys_find_their_stored_rows(maker) -> None:
    owner = _remote_owner(maker)
    batch = ReceiveBatch(maker)
    for label in ("first", "second"):  # the second burst updates what the first stored
        for i in range(3):
            key = base64.b64encode(bytes([i, 255])).decode()
            msg = {"key": key, "label": f"{label} {i}", "sync_serial": 1}
            _receive(batch, Token, {**msg, "_sync_owner": owner})
            msg = {"left": i, "right": "r", "label": f"{label} {i}", "sync_serial": 1}
            _receive(batch, Pair, {**msg, "_sync_owner": owner})
        batch.commit()
        assert not batch.failed
    with maker() as session:
        tokens = {t.key: t.label for t in session.scalars(sa.select(Token))}
        pairs = {(p.left, p.right): p.label for p in session.scalars(sa.select(Pair))}
    assert tokens == {bytes([i, 255]): f"second {i}" for i in range(3)}
    assert pairs == {(i, "r"): f"second {i}" for i in range(3)}


_FILL_CASES = [
    {"label": "a", "level": 3, "sync_serial": 2, "_sync_owner": "x"},
    {"level": 3, "label": "b"},  # another key order: another compiled fill
    {"label": "x" * 41, "level": 3},  # longer than String(40): the check refuses
    {"label": None, "level": 3},  # NOT NULL: refused alone
    {"label": "a", "level": None},
    {"label": "a", "level": True},  # not an integer
    {"label": "a", "level": 2**70},  # out of the 64-bit range
    {"label": "a", "colour": "red"},  # no such property: the object model's path
    {"label": "a", "seen": "2024-05-01T10:00:00"},  # a decoder: the general loop
    {"label": "a", "seen": None, "sync_serial": None},
]


def _fill_outcome(msg: dict[str, Any], compiled: bool) -> Any:
    from entanglement.sql.schema.fill import fill_plain
    from entanglement.sql.schema.plan import row_plan

    plan = row_plan(Probe)
    plan.fills.clear()
    if not compiled:  # what the fill does once FILLS key tuples were seen
        plan.fills[tuple(msg)] = None
    row = Probe.__new__(Probe)
    row._sa_class_manager._new_state_if_none(row)  # (a batched row: no __init__)
    try:
        result: Any = fill_plain(row, dict(msg))
    except SyncBadEncodingError as exc:
        result = str(exc)
    finally:
        plan.fills.clear()
    values = {k: v for k, v in row.__dict__.items() if k != "_sa_instance_state"}
    return result, values


@pytest.mark.parametrize("msg", _FILL_CASES)
def test_the_compiled_batch_fill_does_what_the_general_one_does(msg) -> None:
    # (issue 12: a compiled fill per message key tuple, the general loop beside it)
    assert _fill_outcome(msg, compiled=True) == _fill_outcome(msg, compiled=False)


def test_a_compiled_batch_fill_is_kept_per_key_tuple_up_to_fills() -> None:
    from entanglement.sql.schema.fill import FILLS, fill_plain
    from entanglement.sql.schema.plan import row_plan

    plan = row_plan(Probe)
    plan.fills.clear()
    try:
        for i in range(FILLS + 5):
            row = Probe.__new__(Probe)
            row._sa_class_manager._new_state_if_none(row)
            msg = {"label": f"r{i}", "level": i, **{f"_extra{j}": 0 for j in range(i)}}
            assert fill_plain(row, msg) is True
            assert (row.label, row.level) == (f"r{i}", i)
        assert len(plan.fills) == FILLS  # later key tuples take the general loop
        assert all(fill is not None for fill in plan.fills.values())
    finally:
        plan.fills.clear()
