"""An IHave answer that meets a locked database drops the link, so it is asked again.

A node answers a neighbour's IHave in the background (rows, then YouHave).  When its
database is locked past the busy timeout in the middle of the answer, the answer used to
fail as a task (an error and a traceback in the log) while the link stayed up: the
neighbour waited for the rest for as long as the link lasted, and lacked those rows
meanwhile (the fault suite's lock test, one row missing at the end).  Now the link is
dropped with one warning and the resync after reconnecting asks again.

Node b answers a's catch-up of 3000 rows over a destination limited to 150 kB/s; while
the answer waits for its first batch to drain, a second connection locks b's SQLite
file, so the next batch's read fails.  Once the lock is gone a must get every row.
Real TLS on loopback, real SQLite files.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid

import pytest
from sql_helpers import SqlNode, Team, run, wait_until

from entanglement.sql import SqlSyncDestination, sync_manager_destinations

ROWS = 3000  # more than one answer batch (entanglement.sql.resync.answer.BATCH = 2000)
BANDWIDTH = 150_000  # bytes/s: the first batch takes about two seconds to drain


def _store_destination(node: SqlNode, other: SqlNode, *, connect: bool) -> None:
    with node.plain() as session:
        host, port = ("127.0.0.1", other.port) if connect else (None, None)
        session.add(
            SqlSyncDestination(
                other.hash, other.name, host=host, port=port, bw_per_sec=BANDWIDTH
            )
        )
        session.commit()
    sync_manager_destinations(node.manager)


def test_an_answer_cut_by_a_lock_is_given_again_after_reconnecting(
    pki, tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "b.sqlite"
    a = SqlNode("a", f"sqlite:///{tmp_path / 'a.sqlite'}", pki["a"])
    b = SqlNode("b", f"sqlite:///{path}?timeout=0.2", pki["b"])  # b answers
    with b.session() as session:  # no manager yet: serials only, nothing to flood
        for i in range(ROWS):
            session.add(Team(id=uuid.uuid4(), name=f"t{i}"))
            if (i + 1) % 500 == 0:
                session.commit()
    caplog.set_level(logging.INFO, logger="entanglement")

    def answer_failed() -> bool:
        return "while answering its IHave" in caplog.text or "task IHave" in caplog.text

    async def scenario() -> None:
        await a.start()
        await b.start()
        try:
            _store_destination(b, a, connect=False)  # b's answer is the limited side
            _store_destination(a, b, connect=True)
            await wait_until(lambda: a.registry.count("sync") > 0)
            assert a.registry.count("sync") < 2000, "the first batch was sent already"
            lock = sqlite3.connect(path, isolation_level=None)
            try:
                lock.execute("BEGIN EXCLUSIVE")  # b's next batch cannot be read
                await wait_until(answer_failed)
                lock.execute("ROLLBACK")
            finally:
                lock.close()
            await wait_until(lambda: len(a.teams()) == ROWS, interval=0.1)
        finally:
            await b.stop()
            await a.stop()

    try:
        run(scenario(), timeout=30)
        assert a.teams() == b.teams()
    finally:
        a.dispose()
        b.dispose()
    assert "task IHave" not in caplog.text  # not a failed task: a dropped link
    assert caplog.text.count("storage unavailable while answering its IHave") == 1
