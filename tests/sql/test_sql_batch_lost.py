"""A lost batch marks the senders of its rows, each on its own (issue 12's faults).

When a batch of received rows cannot be stored (here: the receiver's SQLite file is
locked by another connection), the rows are asked for again: the next YouHave of
*their* sender is not recorded and that link is closed.  It used to be one flag per
manager: the first YouHave of any peer took it, and a second peer whose rows were in
the same lost batch had its YouHave recorded over rows it never stored.

Real TLS on loopback, real SQLite files (the nodes learn each other's owners over a real
link first); the rows are handed to the receiver's batch as its receive path does, and
the lock is ``BEGIN EXCLUSIVE`` on a second connection to the receiver's file.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid

import pytest
from sql_helpers import (
    SqlNode,
    Team,
    add_teams,
    connected,
    owner_learned_from,
    run,
    shutdown,
    wait_until,
)

from entanglement.sql.receive.batch import manager_batch, take_failure

LOST = "could not store"


def _received(node: SqlNode, sender: SqlNode, name: str) -> Team:
    # A row as the receive path hands it to the batch: built from a message of
    # ``sender``'s owner, its hooks run.
    owner = owner_learned_from(node, sender)
    return Team(
        id=uuid.uuid4(), name=name, motto=None, sync_owner_id=owner.id, sync_serial=9
    )


def test_rows_of_two_peers_lost_together_mark_both(
    pki, tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "a.sqlite"
    a = SqlNode("a", f"sqlite:///{path}?timeout=0.1", pki["a"])  # the receiver
    b = SqlNode("b", f"sqlite:///{tmp_path / 'b.sqlite'}", pki["b"])
    c = SqlNode("c", f"sqlite:///{tmp_path / 'c.sqlite'}", pki["c"])
    caplog.set_level(logging.INFO, logger="entanglement")

    async def scenario() -> None:
        for node in (a, b, c):
            await node.start()
        try:
            await connected(b, a)
            await connected(c, a)
            add_teams(b, "from b")
            add_teams(c, "from c")
            await wait_until(lambda: {"from b", "from c"} <= set(a.teams()))
            from_b = a.manager.dest_by_hash(b.hash)
            from_c = a.manager.dest_by_hash(c.hash)
            batch = manager_batch(a.manager, a.registry.sessionmaker)
            fields = frozenset({"id", "name", "motto"})
            batch.add(_received(a, b, "b lost"), fields, from_b)
            batch.add(_received(a, c, "c lost"), fields, from_c)
            lock = sqlite3.connect(path, isolation_level=None)
            try:
                lock.execute("BEGIN EXCLUSIVE")
                batch.commit()  # the database is unavailable: the batch is lost
            finally:
                lock.execute("ROLLBACK")
                lock.close()
            assert LOST in caplog.text
            assert {"b lost", "c lost"}.isdisjoint(a.teams())
            # Both senders are marked, each once.
            assert take_failure(a.manager, from_b)
            assert take_failure(a.manager, from_c)
            assert not take_failure(a.manager, from_b)
            assert not take_failure(a.manager, from_c)
            # A batch stored marks no one.
            batch.add(_received(a, b, "b stored"), fields, from_b)
            batch.commit()
            assert "b stored" in a.teams()
            assert not take_failure(a.manager, from_b)
        finally:
            await shutdown(a, b, c)

    run(scenario(), timeout=60)
