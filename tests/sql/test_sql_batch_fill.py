"""Batched rows are filled and stored by the fast path with the object model's rules.

The batched receive path (plain ``sync`` floods) fills plain column properties through
the row's ``__dict__`` and inserts new rows with a Core ``executemany``; anything the
fast path cannot take (validators, undecodable values, unknown keys) goes through the
object model, with its errors.  These tests drive the path with a real ReceiveBatch on a
real SQLite file.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import DateTime, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates

from entanglement._hashes import DestHash
from entanglement.interface import SyncBadEncodingError
from entanglement.operations import sync
from entanglement.sql import (
    SqlSynchronizable,
    SqlSyncRegistry,
    SyncOwner,
    sync_session_maker,
)
from entanglement.sql.batch import ReceiveBatch
from entanglement.sql.registry import SyncContext

registry = SqlSyncRegistry()


class Base(SqlSynchronizable, DeclarativeBase):
    sync_registry = registry


class Probe(Base):
    __tablename__ = "probe"
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(40))
    seen: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    level: Mapped[int] = mapped_column(default=7)


class Checked(Base):
    __tablename__ = "checked"
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(40))

    @validates("label")
    def _upper(self, key: str, value: str) -> str:
        return value.upper()


@pytest.fixture
def maker(tmp_path: Any) -> Any:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'fill.sqlite'}")
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
        from entanglement.sql.batch import COMMIT_DELAY, batch_context

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


def test_owner_ids_are_uuids_in_the_stored_rows(maker) -> None:
    owner = _remote_owner(maker)
    batch = ReceiveBatch(maker)
    _receive(
        batch, Probe, {"id": 5, "label": "x", "sync_serial": 1, "_sync_owner": owner}
    )
    batch.commit()
    (row,) = _stored(maker, Probe)
    assert row.sync_owner_id == uuid.UUID(owner)
