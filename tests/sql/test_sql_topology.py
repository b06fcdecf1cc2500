"""Three nodes in a line and in a triangle: floods reach everyone once, no loops."""

from __future__ import annotations

import asyncio

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


async def _nodes(pki, db_factory, names: str = "abc") -> list[SqlNode]:
    return [await SqlNode(n, db_factory(n), pki[n]).start() for n in names]


def test_line_floods_once_and_replays_a_delete_two_hops_away(pki, db_factory) -> None:
    async def scenario() -> None:
        a, b, c = await _nodes(pki, db_factory)
        try:
            await connected(a, b)
            await connected(c, b)
            add_teams(a, "red", "blue")
            await wait_until(
                lambda: set(c.teams()) == {"red", "blue"} and caught_up(c, a)
            )
            assert b.registry.count("sync") == c.registry.count("sync") == 2

            await c.stop()  # c misses a delete made two hops away
            with a.session() as session:
                session.delete(
                    session.scalars(sa.select(Team).where(Team.name == "red")).one()
                )
                session.commit()
            await wait_until(lambda: set(b.teams()) == {"blue"})
            c.registry.received.clear()
            await c.start()
            await wait_until(lambda: set(c.teams()) == {"blue"})
            # quirk 38 fixed: b's tombstone has the deletion serial, so it replays
            assert c.registry.count("delete") == 1
            assert c.registry.count("sync") == 0
        finally:
            await shutdown(a, b, c)

    run(scenario())


def test_triangle_floods_reach_everyone_once_without_loops(pki, db_factory) -> None:
    async def scenario() -> None:
        a, b, c = await _nodes(pki, db_factory)
        try:
            await connected(a, b)
            await connected(b, c)
            await connected(c, a)
            await wait_until(lambda: all(len(n.owner_ids()) == 3 for n in (a, b, c)))
            add_teams(a, "from a")
            add_teams(b, "from b")
            everything = {"from a", "from b"}
            await wait_until(
                lambda: all(set(n.teams()) == everything for n in (a, b, c))
            )
            await asyncio.sleep(0.3)  # a loop would keep delivering
            for node, expected in ((a, 1), (b, 1), (c, 2)):
                assert node.registry.count("sync") == expected, node.name
            with b.session() as session:  # a delete around the cycle stops too
                session.delete(
                    session.scalars(sa.select(Team).where(Team.name == "from b")).one()
                )
                session.commit()
            await wait_until(
                lambda: all(set(n.teams()) == {"from a"} for n in (a, b, c))
            )
            await asyncio.sleep(0.3)
            assert a.registry.count("delete") == c.registry.count("delete") == 1
        finally:
            await shutdown(a, b, c)

    run(scenario())


def test_owner_delete_clears_its_rows_downstream(pki, db_factory) -> None:
    async def scenario() -> None:
        a, b, c = await _nodes(pki, db_factory)
        try:
            await connected(a, b)
            await connected(c, b)
            add_teams(a, "red")
            add_teams(b, "green")
            await wait_until(lambda: set(c.teams()) == {"red", "green"})
            a_owner = a.local_owner().id
            b.manager.dest_by_hash(a.hash).clear_all_objects(b.manager)
            await wait_until(lambda: set(c.teams()) == {"green"})
            assert a_owner not in c.owner_ids()
            assert a_owner not in b.owner_ids()
        finally:
            await shutdown(a, b, c)

    run(scenario())
