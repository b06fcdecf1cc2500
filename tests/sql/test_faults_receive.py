"""A locked database while receiving drops the link once, not once per message (issue 10).

When a received message cannot be stored because the database is busy or locked, the
node drops the link and the resync after reconnecting asks for everything again.  It
used to *close* the link gracefully and go on with the rest of the received chunk, so
each further message waited out the busy timeout again with the event loop blocked (the
fault suite's proxy run: six deletes, five seconds each, on one connection).  Now the
link is aborted and the rest of the chunk is left alone: at most one warning per
connection, and once the lock is gone the deletes arrive through the resync.

Real TLS on loopback, real SQLite files; the lock is a second connection's
``BEGIN EXCLUSIVE`` on the receiver's file.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import sqlite3

import pytest
import sqlalchemy as sa
from sql_helpers import SqlNode, Team, connected, run, wait_until

DELETES = 20
WARNING = "storage unavailable while processing"


def test_a_chunk_met_by_a_lock_costs_one_warning_per_connection(
    pki, tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "a.sqlite"
    a = SqlNode("a", f"sqlite:///{path}?timeout=0.2", pki["a"])  # the receiver
    b = SqlNode("b", f"sqlite:///{tmp_path / 'b.sqlite'}", pki["b"])
    caplog.set_level(logging.INFO, logger="entanglement")

    def warnings() -> list[logging.LogRecord]:
        return [r for r in caplog.records if WARNING in r.getMessage()]

    async def scenario() -> None:
        await a.start()
        await b.start()
        try:
            await connected(b, a)  # b connects to a: one peer address per link
            with b.session() as session:
                for i in range(DELETES):
                    session.add(Team(name=f"t{i}"))
                session.commit()
            await wait_until(lambda: len(a.teams()) == DELETES)
            lock = sqlite3.connect(path, isolation_level=None)
            try:
                lock.execute("BEGIN EXCLUSIVE")
                with b.session() as session:  # one commit: the deletes leave together
                    for team in session.scalars(sa.select(Team)).all():
                        session.delete(team)
                    session.commit()
                await wait_until(lambda: bool(warnings()))
                await asyncio.sleep(0.3)  # reconnections may meet the lock too
                lock.execute("ROLLBACK")
            finally:
                lock.close()
            await wait_until(lambda: not a.teams(), interval=0.05)
        finally:
            await b.stop()
            await a.stop()

    try:
        run(scenario(), timeout=60)
    finally:
        a.dispose()
        b.dispose()
    per_link = collections.Counter(r.getMessage().split(": ")[0] for r in warnings())
    assert per_link, "the lock was never met"
    assert max(per_link.values()) == 1, per_link
