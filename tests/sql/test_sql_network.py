"""Two SQL nodes over real TLS: the initial exchange when they first connect."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sql_helpers import (
    SqlNode,
    add_teams,
    connected,
    pair,
    run,
    shutdown,
    wait_until,
)

from entanglement.sql import SqlSyncDestination


def test_rows_committed_before_connecting_reach_the_other_side(
    pki: dict, db_factory: Callable[[str], str]
) -> None:
    async def scenario() -> None:
        a = await SqlNode("a", db_factory("a"), pki["a"]).start()
        b = await SqlNode("b", db_factory("b"), pki["b"]).start()
        try:
            add_teams(a, "a1", "a2", "a3")
            add_teams(b, "b1", "b2")
            await connected(a, b)
            everything = {"a1", "a2", "a3", "b1", "b2"}
            await wait_until(lambda: set(a.teams()) == set(b.teams()) == everything)
            assert b.registry.count("sync") == 3
            assert a.registry.count("sync") == 2
            with b.plain() as session:
                dest = session.scalars(
                    sa.select(SqlSyncDestination).where(
                        SqlSyncDestination.dest_hash == a.hash
                    )
                ).one()
                assert [o.id for o in dest.owners] == [a.local_owner().id]
                assert dest.owners[0].sql_destination is dest
        finally:
            await a.stop()
            await b.stop()
            a.dispose()
            b.dispose()

    run(scenario())


def test_a_commit_is_written_before_the_application_yields(
    pki: dict, db_factory: Callable[[str], str]
) -> None:
    # A managed commit floods its rows and writes the frames at once: an application
    # that commits again without returning to the event loop does not hold them back.
    async def scenario() -> None:
        a, b = await pair(pki, db_factory)
        try:
            await connected(a, b)
            [protocol] = a.manager.connections
            await wait_until(lambda: not protocol.conn.has_output)
            before = protocol.conn.out_count
            add_teams(a, "t1", "t2")
            written = protocol.conn.out_count - before
            assert written >= 2  # both rows framed and written within commit()
            assert not protocol.conn.has_output
            add_teams(a, "t3")
            assert protocol.conn.out_count - before > written
            await wait_until(lambda: {"t1", "t2", "t3"} <= set(b.teams()))
        finally:
            await shutdown(a, b)

    run(scenario())
