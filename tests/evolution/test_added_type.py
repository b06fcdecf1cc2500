"""A type added by the new schema: the old node refuses its rows, then gets them all.

The old node knows ``Stroke`` only; the new one adds ``Marker``.  While they differ, the
old node answers every ``Marker`` row with ``UnregisteredSyncClass`` and does not count
it as received (its serial is held, :func:`entanglement.sql.receive.batch.hold_unknown_type`).
Once restarted with the new models, it receives every Marker committed meanwhile, and
both databases hold the same rows, values and ``sync_serial``s.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

sys.path.insert(0, str(Path(__file__).parent.parent / "sql"))

from sql_helpers import SqlNode, connected, run, shutdown, wait_until

from entanglement.sql import SqlSynchronizable, SqlSyncRegistry, SyncOwner


class OldBase(SqlSynchronizable, DeclarativeBase):
    sync_registry = SqlSyncRegistry()


class OldStroke(OldBase):
    __tablename__ = "strokes"
    sync_type = "Stroke"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(sa.String(32))


class NewBase(SqlSynchronizable, DeclarativeBase):
    sync_registry = SqlSyncRegistry()


class NewStroke(NewBase):
    __tablename__ = "strokes"
    sync_type = "Stroke"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(sa.String(32))


class Marker(NewBase):
    __tablename__ = "markers"
    sync_type = "Marker"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    label: Mapped[str] = mapped_column(sa.String(32))


def _table(engine: sa.Engine, name: str) -> dict[int, dict[str, Any]]:
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(name):
            return {}
        table = sa.Table(name, sa.MetaData(), autoload_with=conn)
        found = {}
        for row in conn.execute(sa.select(table)):
            values = dict(row._mapping)
            values.pop("sync_owner_id")  # the same owner; compared through the serials
            found[row.id] = values
        return found


def _commit(node: SqlNode, *objs: Any) -> None:
    with node.session() as session:
        session.add_all(objs)
        session.commit()


def _incoming(node: SqlNode, other: SqlNode) -> int:
    with node.plain() as session:
        owner = session.scalars(
            sa.select(SyncOwner).where(SyncOwner.dest_hash == other.hash)
        ).one()
        return int(owner.incoming_serial)


def _max_serial(node: SqlNode) -> int:
    with node.plain() as session:
        return int(session.scalar(sa.text("select max(serial) from sync_serial")))


async def _scenario(pki: Any, db_factory: Any) -> None:
    old = await SqlNode("old", db_factory("old"), pki["a"], models=(OldStroke,)).start()
    new = await SqlNode(
        "new", db_factory("new"), pki["b"], models=(NewStroke, Marker)
    ).start()
    _commit(new, NewStroke(id=1, name="one"), Marker(id=1, label="north"))
    await connected(old, new)
    await wait_until(lambda: 1 in _table(old.engine, "strokes"))
    _commit(new, Marker(id=2, label="south"), NewStroke(id=2, name="two"))
    await wait_until(lambda: 2 in _table(old.engine, "strokes"))
    assert _table(old.engine, "markers") == {}  # the old schema has no such table
    # The markers were refused, so the old node does not claim to hold everything.
    assert _incoming(old, new) < _max_serial(new)
    await old.stop()
    old.dispose()
    upgraded = await SqlNode(
        "old", old.url, pki["a"], models=(NewStroke, Marker)
    ).start(old.port)
    await wait_until(lambda: upgraded.live(new) and new.live(upgraded))
    await wait_until(
        lambda: _table(upgraded.engine, "markers") == _table(new.engine, "markers")
    )
    assert set(_table(upgraded.engine, "markers")) == {1, 2}
    assert _table(upgraded.engine, "strokes") == _table(new.engine, "strokes")
    await wait_until(lambda: _incoming(upgraded, new) == _max_serial(new))
    await shutdown(upgraded, new)


def test_rows_of_a_type_added_later_arrive_after_the_upgrade(pki, db_factory, caplog):
    caplog.set_level(logging.INFO, logger="entanglement")
    run(_scenario(pki, db_factory), timeout=90)
    refused = [
        r.getMessage() for r in caplog.records if "rejected sync of" in r.getMessage()
    ]
    assert any("'Marker'" in m for m in refused), refused
