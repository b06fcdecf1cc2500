"""Issue 10 item 1: a forward relayed by a gateway carries the values its sender sent.

Three SQL nodes in a line, A → G → O, O owning the rows.  A's forward reaches O through
G; G must relay what A proposed (not its own stored copy), and O's answer (the accepted
row, or a database error) must travel back through G to A's ``sync_future``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
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

from entanglement.sql import SqlSyncError, SyncOwner


async def _line(pki: dict[str, Any], db_factory: Callable[[str], str]) -> list[SqlNode]:
    """A → G → O started and connected, O's teams x and y known everywhere."""
    names = (("a", "a"), ("g", "b"), ("o", "c"))
    nodes = [await SqlNode(n, db_factory(n), pki[key]).start() for n, key in names]
    a, g, o = nodes
    add_teams(o, "x", "y")
    await connected(g, o)
    await connected(a, g)
    await wait_until(
        lambda: set(a.teams()) == {"x", "y"} and caught_up(a, o) and caught_up(g, o)
    )
    return nodes


def test_gateway_relays_the_values_the_requester_sent(pki, db_factory) -> None:
    async def scenario() -> None:
        a, g, o = await _line(pki, db_factory)
        try:
            with a.session() as session:
                team = session.scalars(sa.select(Team).where(Team.name == "x")).one()
                team.motto = "proposed by a"
                session.sync_commit()
                session.commit()
                accepted = await team.sync_future
            assert isinstance(accepted, Team)
            assert accepted.motto == "proposed by a"
            assert o.teams() == {"x": "proposed by a", "y": "y!"}
            await wait_until(
                lambda: a.teams() == g.teams() == {"x": "proposed by a", "y": "y!"}
            )
            # G stored the change only once the owner had accepted it
            assert g.registry.count("forward") == 1
        finally:
            await shutdown(a, g, o)

    run(scenario())


def test_an_error_at_the_owner_reaches_the_requester_through_the_gateway(
    pki, db_factory
) -> None:
    async def scenario() -> None:
        a, g, o = await _line(pki, db_factory)
        try:
            before = o.teams()
            with a.session() as session:
                team = session.scalars(sa.select(Team).where(Team.name == "y")).one()
                team.name = "x"  # team names are unique: O's database refuses it
                session.sync_commit()
                session.commit()
                with pytest.raises(SqlSyncError, match="refused"):
                    await team.sync_future
            assert o.teams() == g.teams() == a.teams() == before
        finally:
            await shutdown(a, g, o)

    run(scenario())


def test_create_and_delete_requests_travel_through_the_gateway(pki, db_factory) -> None:
    async def scenario() -> None:
        a, g, o = await _line(pki, db_factory)
        try:
            with a.plain() as session:  # O's owner, as A learned it (from G)
                owner = session.get(SyncOwner, o.local_owner().id)
                assert owner is not None
                assert owner.dest_hash == g.hash
                session.expunge(owner)
            created = await Team(name="made by a", motto="new").sync_create(
                a.manager, owner
            )
            assert created.motto == "new"
            assert o.teams()["made by a"] == "new"
            with a.session() as session:
                team = session.scalars(sa.select(Team).where(Team.name == "x")).one()
                session.delete(team)
                session.sync_commit()
                session.commit()
                await team.sync_future
            assert set(o.teams()) == {"y", "made by a"}
            await wait_until(
                lambda: set(a.teams()) == set(g.teams()) == {"y", "made by a"}
            )
        finally:
            await shutdown(a, g, o)

    run(scenario())
