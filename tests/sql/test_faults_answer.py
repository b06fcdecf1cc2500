"""An IHave answer in progress: no lock held across its waits, no change it can miss.

The fault suite's proxy run (seed 2848413259 on CI, 4046482976 here) ended with node a's
SQLite file locked for good: a answered b's IHave reading its rows through one cursor
kept open across the waits for the connection to drain, and an open SQLite cursor holds
the file's shared lock.  Every commit on the file, the application's and a's own
receive sessions', then waited out the busy timeout and failed, a's event loop blocked
meanwhile, so the drain never finished either.  The answer now reads each batch to its
end.  Separate reads see commits made in between, so the answer also stops at the
owner's highest serial when it starts: with reads running past it (seed 3771355622), a
row deleted by the application after its batch was sent kept its place at the peer,
whose YouHave covered the deletion's serial without the tombstone.

Node a answers b's catch-up of 3000 rows over a destination limited to 150 kB/s, so
the answer waits between its batches for a couple of seconds; meanwhile a's
application commits.  Real TLS on loopback, real SQLite files.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sql_helpers import SqlNode, Team, run, wait_until

from entanglement.sql import SqlSyncDestination, SyncOwner, sync_manager_destinations
from entanglement.sql.resync.watch import CommitWatcher

ROWS = 3000  # more than one answer batch (entanglement.sql.resync.answer.BATCH = 2000)
COMMITS = 6  # several serials, as a live application's commits give
BANDWIDTH = 150_000  # bytes/s: the first batch takes about two seconds to drain
FIRST_BATCH = 2000


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


def _nodes(pki, tmp_path) -> tuple[SqlNode, SqlNode]:
    """a (with ROWS rows in COMMITS commits) and b (empty)."""
    # a's engine gives up on a lock after 0.5 s (pysqlite's timeout, in seconds)
    a = SqlNode("a", f"sqlite:///{tmp_path / 'a.sqlite'}?timeout=0.5", pki["a"])
    b = SqlNode("b", f"sqlite:///{tmp_path / 'b.sqlite'}", pki["b"])
    with a.session() as session:  # no manager yet: serials only, nothing to flood
        for i in range(ROWS):
            session.add(Team(id=uuid.uuid4(), name=f"t{i}", motto=f"{i}!"))
            if (i + 1) % (ROWS // COMMITS) == 0:
                session.commit()
    return a, b


async def _inside_first_drain(a: SqlNode, b: SqlNode) -> None:
    """b connects to a and a's answer is sending its first batch."""
    _store_destination(a, b, connect=False)  # a's answer is the limited side
    _store_destination(b, a, connect=True)
    await wait_until(lambda: _received(b) > 0)
    assert _received(b) < FIRST_BATCH, "the answer's first batch was sent already"


def test_commits_go_through_while_an_i_have_answer_waits_for_the_drain(
    pki, tmp_path
) -> None:
    a, b = _nodes(pki, tmp_path)

    async def scenario() -> None:
        await a.start()
        await b.start()
        try:
            await _inside_first_drain(a, b)
            with a.session() as session:
                session.add(Team(name="late", motto="committed mid-answer"))
                session.commit()  # raised OperationalError (database is locked)
            assert _received(b) < FIRST_BATCH  # (the event loop did not run meanwhile)
            await wait_until(lambda: len(b.teams()) == ROWS + 1, interval=0.1)
        finally:
            await b.stop()
            await a.stop()

    try:
        run(scenario(), timeout=60)
        assert b.teams() == a.teams()
        assert b.teams()["late"] == "committed mid-answer"
        with a.plain() as session:
            count = session.scalar(sa.select(sa.func.count()).select_from(Team))
        assert count == ROWS + 1
    finally:
        a.dispose()
        b.dispose()


def test_a_row_deleted_during_the_answer_is_deleted_at_the_peer(pki, tmp_path) -> None:
    a, b = _nodes(pki, tmp_path)
    a_owner = a.local_owner().id

    def b_recorded() -> int:
        with b.plain() as session:
            owner = session.get(SyncOwner, a_owner)
            return 0 if owner is None else int(owner.incoming_serial)

    async def scenario() -> None:
        await a.start()
        await b.start()
        try:
            await _inside_first_drain(a, b)
            # a's application (its own session, no manager: nothing is flooded, as
            # with another process) deletes a row of the batch on its way to b and
            # adds one; the commit's serial is above every serial of the catch-up
            with a.registry.sessionmaker() as session:
                session.delete(
                    session.scalars(sa.select(Team).filter_by(name="t0")).one()
                )
                session.add(Team(name="late"))
                session.commit()
            await wait_until(lambda: b_recorded() > 0)  # the answer's YouHave
            # b reconnects: its IHave asks from what it recorded; a must send the
            # deletion then (with reads running past the start, b had recorded the
            # deletion's serial without it and kept t0 for good)
            await b.stop()
            await b.start()
            await wait_until(lambda: b.teams() == a.teams(), interval=0.1)
        finally:
            await b.stop()
            await a.stop()

    try:
        run(scenario(), timeout=30)
        assert "t0" not in b.teams()
        assert "late" in b.teams()
        assert len(b.teams()) == ROWS
    finally:
        a.dispose()
        b.dispose()


def test_a_commit_seen_while_the_answer_runs_is_pushed_after_it(pki, tmp_path) -> None:
    a, b = _nodes(pki, tmp_path)

    async def scenario() -> None:
        await a.start()
        await b.start()
        watcher = CommitWatcher(a.manager)  # before any connection, as the node does

        def pushed() -> bool:
            watcher.poll()  # what the node does every --poll seconds
            return "late" in b.teams()

        try:
            await _inside_first_drain(a, b)
            with a.registry.sessionmaker() as session:  # as another process would
                session.add(Team(name="late"))
                session.commit()
            # seen while b's answer runs: b's connection is skipped (its answer has
            # read its rows), and must still get the row once the answer is over;
            # with one mark for all connections, it was marked pushed at once
            assert watcher.poll() == 0
            await wait_until(pushed, interval=0.1)
        finally:
            await b.stop()
            await a.stop()

    try:
        run(scenario(), timeout=30)
        assert b.teams() == a.teams()
    finally:
        a.dispose()
        b.dispose()
