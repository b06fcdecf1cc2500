"""Received floods are stored in bulk whatever the application overrides (issue 12 item 2).

The application here is the one issue 12 measures: its registry overrides
``sync_receive`` (and calls super), and its class defines its own ``__init__``.  A
flood of rows from its owner must still be stored by the receive batch
(:mod:`entanglement.sql.receive.batch`): a few multi-row INSERTs on the receiving engine rather
than one INSERT and one commit per row, with the application's hooks still called for
every row, in the spec's order (construction, then ``sync_receive``).  Real TLS on
loopback, real SQLite files and PostgreSQL schemas.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from sql_helpers import SqlNode, connected, run, shutdown, wait_until
from sqlalchemy import String, event
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from entanglement.sql import GUID, SqlSynchronizable, SqlSyncRegistry
from entanglement.sql.base import SyncOwner

ROWS = 1500


class AppRegistry(SqlSyncRegistry):
    """Application-specific processing: records each received object, then the base."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: list[tuple[str, str]] = []

    def sync_receive(self, obj: Any, operation: Any, **info: Any) -> Any:
        # the spec's order: this message's row was built (by Crew.__init__) just before
        built = bool(Crew.constructed) and Crew.constructed[-1] is obj
        self.calls.append(("sync_receive" if built else "not constructed", obj.name))
        return super().sync_receive(obj, operation, **info)


class Base(SqlSynchronizable, DeclarativeBase):
    sync_registry = AppRegistry()


class Crew(Base):
    __tablename__ = "crew"
    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(64), nullable=True)

    constructed: list[Crew] = []  # noqa: RUF012 - the test's record of __init__ calls

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        Crew.constructed.append(self)


def _node(name: str, url: str, pki_node: Any) -> SqlNode:
    node = SqlNode(name, url, pki_node, models=(Crew,))
    node.registry = AppRegistry(
        bind=node.engine
    )  # (SqlNode's own is a CountingRegistry)
    node.registry.register_syncable(Crew.sync_type, Crew)
    return node


def _own_owner(node: SqlNode) -> str:
    with node.plain() as session:
        return str(
            session.scalars(
                sa.select(SyncOwner.id).where(SyncOwner.dest_hash.is_(None))
            ).one()
        )


def _answered(caplog: pytest.LogCaptureFixture, owner: str) -> bool:
    # a answered b's IHave for a's owner: it logs once it has read what it sends.
    return any(f"sent owner {owner}" in r.getMessage() for r in caplog.records)


def test_an_overriding_application_still_stores_floods_in_bulk(
    pki, db_factory, caplog: pytest.LogCaptureFixture
) -> None:
    a = _node("a", db_factory("a"), pki["a"])
    b = _node("b", db_factory("b"), pki["b"])
    inserts: list[tuple[bool, int]] = []  # (executemany, rows) per INSERT INTO crew

    @event.listens_for(b.engine, "before_cursor_execute")
    def _count(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO CREW"):
            inserts.append((many, len(params) if many else 1))

    async def scenario() -> None:
        await a.start()
        await b.start()
        try:
            await connected(b, a)
            # a's answer to b's IHave first: rows committed while it is read would
            # reach b twice (answer and flood), which the protocol allows but this
            # count of hook calls would not.
            await wait_until(lambda: _answered(caplog, _own_owner(a)))
            with a.session() as session:
                for i in range(ROWS):
                    session.add(Crew(name=f"c{i}", role="deck" if i % 2 else None))
                session.commit()  # flooded to b
            Crew.constructed.clear()
            await wait_until(lambda: _count_rows(b) == ROWS, interval=0.05)
        finally:
            await shutdown(a, b)

    try:
        with caplog.at_level(logging.INFO, logger="entanglement"):
            run(scenario(), timeout=60)
        with a.plain() as sa_session, b.plain() as sb_session:
            rows_a = {
                c.id: (c.name, c.role, c.sync_serial)
                for c in sa_session.scalars(sa.select(Crew))
            }
            rows_b = {
                c.id: (c.name, c.role, c.sync_serial)
                for c in sb_session.scalars(sa.select(Crew))
            }
        assert rows_b == rows_a
        # the application's hooks ran once for every row, construction first
        assert {hook for hook, _ in b.registry.calls} == {"sync_receive"}
        received = sorted(name for _, name in b.registry.calls)
        assert received == sorted(name for name, _, _ in rows_a.values())
        # stored in bulk: few INSERT statements, together carrying every row
        assert sum(n for _, n in inserts) == ROWS, inserts
        assert len(inserts) <= ROWS // 100, f"{len(inserts)} INSERTs for {ROWS} rows"
        assert all(many for many, _ in inserts), inserts
    finally:
        a.dispose()
        b.dispose()


def _count_rows(node: SqlNode) -> int:
    with node.plain() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(Crew)) or 0)
