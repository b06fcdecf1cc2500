"""A node that was offline catches up on exactly what it missed."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sql_helpers import (
    SqlNode,
    Team,
    add_teams,
    caught_up,
    connected,
    run,
    shutdown,
    wait_until,
)


def test_offline_node_gets_exactly_the_inserts_updates_and_deletes(
    pki: dict, db_factory: Callable[[str], str]
) -> None:
    async def scenario() -> None:
        a = await SqlNode("a", db_factory("a"), pki["a"]).start()
        b = await SqlNode("b", db_factory("b"), pki["b"]).start()
        try:
            add_teams(a, *(f"t{i}" for i in range(1, 6)))
            await connected(b, a)
            await wait_until(lambda: len(b.teams()) == 5 and caught_up(b, a))
            await b.stop()

            add_teams(a, "t6", "t7")
            with a.session() as session:
                t1 = session.scalars(sa.select(Team).where(Team.name == "t1")).one()
                t1.motto = "updated while b was away"
                t2 = session.scalars(sa.select(Team).where(Team.name == "t2")).one()
                session.delete(t2)
                session.commit()

            b.registry.received.clear()
            await b.start()
            await wait_until(lambda: b.teams() == a.teams())
            assert b.teams()["t1"] == "updated while b was away"
            assert "t2" not in b.teams()
            # exactly the changes: t6, t7 and t1 as syncs, t2 as one replayed delete
            assert b.registry.count("sync") == 3
            assert b.registry.count("delete") == 1
        finally:
            await shutdown(a, b)

    run(scenario())


def test_reconnect_without_changes_sends_no_rows(
    pki: dict, db_factory: Callable[[str], str]
) -> None:
    async def scenario() -> None:
        a = await SqlNode("a", db_factory("a"), pki["a"]).start()
        b = await SqlNode("b", db_factory("b"), pki["b"]).start()
        try:
            add_teams(a, "x", "y")
            await connected(b, a)
            await wait_until(lambda: len(b.teams()) == 2 and caught_up(b, a))
            await b.stop()
            b.registry.received.clear()
            await b.start()
            owner_id = a.local_owner().id
            # the resync is over once a has answered b's IHave for its owner
            await wait_until(
                lambda: a.live(b)
                and owner_id in a.manager.dest_by_hash(b.hash).received_i_have
            )
            add_teams(a, "z")  # a marker after the resync
            await wait_until(lambda: "z" in b.teams())
            assert b.registry.count("sync") == 1
        finally:
            await shutdown(a, b)

    run(scenario())
