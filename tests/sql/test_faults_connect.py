"""A connection set up while the database is locked is retried like any failed attempt.

Setting up an SQL destination's connection reads and writes the database (interrupted
first catch-ups, the resync's owners).  When another writer holds the SQLite file past
the busy timeout, the attempt used to fail with "connection setup failed" and a
traceback at ERROR level, as for a bug in a hook; a link cut while the set-up sent on
it did the same.  Both are ordinary failed attempts now: one warning line (or an info
line for the cut link), then the retry with backoff, which connects once the lock is
gone.  Real TLS on loopback, real SQLite files; the lock is a second connection's
``BEGIN EXCLUSIVE``.
"""

from __future__ import annotations

import logging
import sqlite3

import pytest
from sql_helpers import SqlNode, add_teams, run, wait_until


def test_a_connection_set_up_against_a_locked_database_is_retried(
    pki, tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "b.sqlite"
    a = SqlNode("a", f"sqlite:///{tmp_path / 'a.sqlite'}", pki["a"])
    b = SqlNode("b", f"sqlite:///{path}?timeout=0.2", pki["b"])  # b connects to a
    add_teams(a, "x", "y")
    caplog.set_level(logging.INFO, logger="entanglement")

    async def scenario() -> None:
        await a.start()
        await b.start()
        try:
            a.add_destination(b, connect=False)
            lock = sqlite3.connect(path, isolation_level=None)
            try:
                b.add_destination(a, connect=True)  # its attempt runs from here on
                lock.execute("BEGIN EXCLUSIVE")
                await wait_until(lambda: "database unavailable" in caplog.text)
                lock.execute("ROLLBACK")
            finally:
                lock.close()
            await wait_until(lambda: b.teams() == {"x": "x!", "y": "y!"}, 0.05)
        finally:
            await b.stop()
            await a.stop()

    try:
        run(scenario(), timeout=30)
    finally:
        a.dispose()
        b.dispose()
    failed = [r for r in caplog.records if "connection failed" in r.getMessage()]
    assert failed, caplog.text
    assert all(r.levelno == logging.WARNING and not r.exc_info for r in failed)
    assert "connection setup failed" not in caplog.text
    assert "Traceback" not in caplog.text
