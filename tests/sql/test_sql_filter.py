"""Filtered SQL destinations (§14 on §12) over real TLS, on SQLite files and PostgreSQL.

A server S owns teams; peer F reaches it through a FilteredSqlSyncDestination that
passes only teams whose motto starts with "public", peer P through a plain one.  Covered:
the catch-up goes through the filter; a committed change admits a row (sent) or
withdraws it (a synthetic delete: F drops it, P keeps it); withdrawal across a
reconnect (the change made while F was away) and across a restart of S (S remembers
nothing it sent, yet F's rows are withdrawn when they stop passing); a three-node
gateway O → G → C whose filter sits at G.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import sqlalchemy as sa
from sql_helpers import SqlNode, Team, run, shutdown, wait_until

from entanglement.filter import Filter, SyncOwnerFilter
from entanglement.sql import SqlSyncDestination, SyncDeleted, sync_manager_destinations
from entanglement.sql.resync.destination import FilteredSqlSyncDestination


def public(team: Team) -> bool:
    return (team.motto or "").startswith("public")


class PublicOnly(FilteredSqlSyncDestination):
    """A peer that holds only public teams (and the owners)."""

    __mapper_args__ = {"polymorphic_identity": "PublicOnly"}  # noqa: RUF012
    filter_should_listen_returns_true = True  # F may send its own rows

    def attach_callbacks(self) -> None:
        self.add_filter(SyncOwnerFilter())
        self.add_filter(Filter(public, type=Team))


def link(
    client: SqlNode,
    server: SqlNode,
    *,
    cls: type[SqlSyncDestination] = SqlSyncDestination,
) -> None:
    """client connects to server; the server's row for the client is of class ``cls``."""
    with server.plain() as session:
        session.add(cls(client.hash, client.name))
        session.commit()
    with client.plain() as session:
        session.add(
            SqlSyncDestination(
                server.hash, server.name, host="127.0.0.1", port=server.port
            )
        )
        session.commit()
    for node in (server, client):
        sync_manager_destinations(node.manager)


def commit_teams(node: SqlNode, **mottos: str) -> None:
    """Create or update teams (name → motto) through node's managed session."""
    with node.session() as session:
        for name, motto in mottos.items():
            team = session.scalars(sa.select(Team).where(Team.name == name)).first()
            if team is None:
                session.add(Team(name=name, motto=motto))
            else:
                team.motto = motto
        session.commit()


def tombstones(node: SqlNode) -> int:
    with node.plain() as session:
        return len(session.scalars(sa.select(SyncDeleted)).all())


async def nodes(
    pki: Any, db_factory: Callable[[str], str], *names: str
) -> list[SqlNode]:
    """Started nodes named ``names`` (certificates a, b, c ...)."""
    return [
        await SqlNode(name, db_factory(name), pki[key]).start()
        for name, key in zip(names, "abcd", strict=False)
    ]


async def star(pki: Any, db_factory: Callable[[str], str]) -> list[SqlNode]:
    s, f, p = await nodes(pki, db_factory, "s", "f", "p")
    commit_teams(s, red="public: red", blue="secret: blue", green="public: green")
    link(f, s, cls=PublicOnly)
    link(p, s)
    return [s, f, p]


ALL = {"red": "public: red", "blue": "secret: blue", "green": "public: green"}


def test_catch_up_admit_and_withdraw(pki: Any, db_factory: Any) -> None:
    async def scenario() -> None:
        s, f, p = await star(pki, db_factory)
        try:
            await wait_until(lambda: p.teams() == ALL)
            await wait_until(
                lambda: f.teams() == {"red": ALL["red"], "green": ALL["green"]}
            )

            commit_teams(s, blue="public: blue", red="secret: red")
            await wait_until(
                lambda: f.teams() == {"blue": "public: blue", "green": ALL["green"]}
            )
            await wait_until(lambda: p.teams()["red"] == "secret: red")
            assert set(p.teams()) == set(ALL)  # the other peer keeps the row
            assert tombstones(f) == 1  # F's own downstream would learn it
            assert set(s.teams()) == set(ALL)  # the withdrawal deleted nothing at S

            commit_teams(s, orange="secret: orange", yellow="public: yellow")
            await wait_until(lambda: "yellow" in f.teams())
            await wait_until(lambda: "orange" in p.teams())
            assert "orange" not in f.teams()
        finally:
            await shutdown(s, f, p)

    run(scenario())


def test_withdrawal_across_reconnect(pki: Any, db_factory: Any) -> None:
    async def scenario() -> None:
        s, f, p = await star(pki, db_factory)
        try:
            await wait_until(lambda: set(f.teams()) == {"red", "green"})
            await f.stop()
            commit_teams(s, red="secret: red", blue="public: blue")
            await f.start()
            await wait_until(
                lambda: f.teams() == {"blue": "public: blue", "green": ALL["green"]}
            )
            await wait_until(lambda: p.teams()["red"] == "secret: red")
        finally:
            await shutdown(s, f, p)

    run(scenario())


def test_withdrawal_after_the_server_restarted(pki: Any, db_factory: Any) -> None:
    async def scenario() -> None:
        s, f, p = await star(pki, db_factory)
        try:
            await wait_until(lambda: set(f.teams()) == {"red", "green"})
            await wait_until(lambda: p.teams() == ALL)
            for node in (f, p, s):
                await node.stop()
            await s.start(s.port)  # remembers nothing it sent to F
            for node in (f, p):
                await node.start()
            await wait_until(lambda: s.live(f) and s.live(p))
            commit_teams(s, green="secret: green")
            await wait_until(lambda: p.teams()["green"] == "secret: green")
            await wait_until(lambda: set(f.teams()) == {"red"})
            commit_teams(s, green="public: again")
            await wait_until(lambda: f.teams().get("green") == "public: again")
        finally:
            await shutdown(s, f, p)

    run(scenario())


def test_filter_at_a_gateway(pki: Any, db_factory: Any) -> None:
    async def scenario() -> None:
        o, g, c = await nodes(pki, db_factory, "o", "g", "c")
        try:
            commit_teams(o, red="public: red", blue="secret: blue")
            link(g, o)
            await wait_until(lambda: set(g.teams()) == {"red", "blue"})
            link(c, g, cls=PublicOnly)
            await wait_until(lambda: c.teams() == {"red": "public: red"})

            commit_teams(o, red="secret: red", blue="public: blue")
            await wait_until(lambda: c.teams() == {"blue": "public: blue"})
            assert g.teams() == {"red": "secret: red", "blue": "public: blue"}

            await c.stop()
            commit_teams(o, blue="secret: blue", green="public: green")
            await c.start()
            await wait_until(lambda: c.teams() == {"green": "public: green"})
            assert set(g.teams()) == {"red", "blue", "green"}
        finally:
            await shutdown(o, g, c)

    run(scenario())


class ByLabel(FilteredSqlSyncDestination):
    """A peer that holds the teams whose names are in ``visible`` (changed at run time)."""

    __mapper_args__ = {"polymorphic_identity": "ByLabel"}  # noqa: RUF012
    filter_should_listen_returns_true = True
    visible: ClassVar[set[str]] = set()

    def attach_callbacks(self) -> None:
        self.add_filter(SyncOwnerFilter())
        self.add_filter(Filter(lambda t: t.name in ByLabel.visible, type=Team))


def test_refilter_after_a_filter_change(pki: Any, db_factory: Any) -> None:
    async def scenario() -> None:
        s, f = await nodes(pki, db_factory, "s", "f")
        ByLabel.visible = {"red", "blue"}
        try:
            commit_teams(s, red="r", blue="b", green="g")
            link(f, s, cls=ByLabel)
            await wait_until(lambda: set(f.teams()) == {"red", "blue"})
            ByLabel.visible = {"blue", "green"}  # the filter changed; no row did
            dest = s.manager.dest_by_hash(f.hash)
            assert await dest.refilter(s.manager) == (1, 1)
            await wait_until(lambda: set(f.teams()) == {"blue", "green"})
            assert await dest.refilter(s.manager) == (0, 0)  # nothing left to do
        finally:
            ByLabel.visible = set()
            await shutdown(s, f)

    run(scenario())
