"""An IHave answer in progress must not lock the database against commits (issue 10).

The fault suite's proxy run (seed 2848413259 on CI, 4046482976 here) ended with node a's
SQLite file locked for good: a answered b's IHave reading its rows through one cursor
kept open across the waits for the connection to drain, and an open SQLite cursor holds
the file's shared lock.  Every commit on the file, the application's and a's own
receive sessions', then waited out the busy timeout and failed, a's event loop blocked
meanwhile, so the drain never finished either.

Here node a answers b's catch-up of 3000 rows over a destination limited to 150 kB/s,
so the answer waits between batches for a few seconds.  While it waits, a's application
commits through a managed session on an engine with a 0.5 s busy timeout: the commit
must succeed at once (before the fix: ``database is locked``), and b must end with every
row, the late one included.  Real TLS on loopback, real SQLite files.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sql_helpers import SqlNode, Team, run, wait_until

from entanglement.sql import SqlSyncDestination, sync_manager_destinations

ROWS = 3000  # more than one answer batch (entanglement.sql.answer.BATCH = 2000)
COMMITS = 6  # several serials, as a live application's commits give
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


def _received(node: SqlNode) -> int:
    return node.registry.count("sync")


def test_commits_go_through_while_an_i_have_answer_waits_for_the_drain(
    pki, tmp_path
) -> None:
    # a's engine gives up on a lock after 0.5 s (pysqlite's timeout, in seconds)
    a = SqlNode("a", f"sqlite:///{tmp_path / 'a.sqlite'}?timeout=0.5", pki["a"])
    b = SqlNode("b", f"sqlite:///{tmp_path / 'b.sqlite'}", pki["b"])
    with a.session() as session:  # no manager yet: serials only, nothing to flood
        for i in range(ROWS):
            session.add(Team(id=uuid.uuid4(), name=f"t{i}", motto=f"{i}!"))
            if (i + 1) % (ROWS // COMMITS) == 0:
                session.commit()

    async def scenario() -> None:
        await a.start()
        await b.start()
        try:
            _store_destination(b, a, connect=False)
            _store_destination(a, b, connect=True)  # a's answer is the limited side
            await wait_until(lambda: _received(b) > 0)
            # the answer is now inside its first batch's drain
            assert _received(b) < 2000, "the answer ended before the commit"
            with a.session() as session:
                session.add(Team(name="late", motto="committed mid-answer"))
                session.commit()  # raised OperationalError (database is locked)
            assert _received(b) < 2000  # (the event loop did not run meanwhile)
            await wait_until(lambda: len(b.teams()) == ROWS + 1, interval=0.1)
        finally:
            await b.stop()
            await a.stop()

    try:
        run(scenario(), timeout=60)
        assert b.teams() == a.teams()
        assert b.teams()["late"] == "committed mid-answer"
        with a.plain() as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(Team)) == (
                ROWS + 1
            )
    finally:
        a.dispose()
        b.dispose()
