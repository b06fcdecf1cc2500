"""SQL catch-up (§12.8) for WebSocket peers: the generated exercise package between a
staff node serving WebSocket and a blue node connecting to it, on SQLite files and on
PostgreSQL.  The blue node's destination is a persisted SqlWebSocketDestination row."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from exercise_sync import Base, Side, Team, new_registry
from ws_helpers import run, url_of, user_hash, wait_until

from entanglement._hashes import DestHash
from entanglement.network import SyncServer
from entanglement.sql import (
    SqlSyncDestination,
    SqlSyncRegistry,
    sync_manager_destinations,
)
from entanglement.websocket import WebSocketRequest, serve_websocket
from entanglement.websocket_sql import SqlWebSocketDestination

STAFF = DestHash.from_string("staff node")


class Node:
    """A database, the generated exercise registry over it and a SyncServer."""

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url)
        SqlSyncRegistry.create_bookkeeping(self.engine)
        Base.metadata.create_all(self.engine)
        self.registry = new_registry(bind=self.engine)
        self.manager: Any = SyncServer(None, 0, registries=[self.registry])
        self.manager.initial_backoff = 0.05

    def add_teams(self, *teams: tuple[str, Side]) -> None:
        with self.registry.sessionmaker(manager=self.manager) as session:
            session.add_all(Team(name=name, side=side) for name, side in teams)
            session.commit()

    def delete_team(self, name: str) -> None:
        with self.registry.sessionmaker(manager=self.manager) as session:
            session.delete(
                session.scalars(sa.select(Team).where(Team.name == name)).one()
            )
            session.commit()

    def names(self) -> set[str]:
        with sa.orm.Session(self.engine) as session:
            return set(session.scalars(sa.select(Team.name)))

    async def close(self) -> None:
        await self.manager.aclose()
        self.manager.session.close()
        self.engine.dispose()


def blue_session(request: WebSocketRequest) -> SqlSyncDestination | None:
    """The staff node's hook: ``?user=blue-b`` is the blue node (a stored row)."""
    if "user=blue-b" not in request.path:
        return None
    return SqlSyncDestination(user_hash("blue-b"), "blue-b")


def test_catch_up_over_websocket(db_factory: Callable[[str], str]) -> None:
    SqlSyncDestination.you_have_timeout = 0.0

    async def scenario() -> None:
        staff, blue = Node(db_factory("staff")), Node(db_factory("blue"))
        try:
            staff.add_teams(("blue team", Side.BLUE), ("red team", Side.RED))
            listener = await serve_websocket(staff.manager, blue_session)
            url = url_of(listener, "blue-b", path="/")
            with sa.orm.Session(blue.engine) as session:
                session.add(SqlWebSocketDestination(STAFF, "staff-a", url))
                session.commit()
            sync_manager_destinations(blue.manager)
            [dest] = blue.manager.destinations
            assert isinstance(dest, SqlWebSocketDestination)

            # First catch-up: what staff had before blue connected; red stays hidden.
            await wait_until(lambda: blue.names() == {"blue team"})

            # Offline changes are caught up after a reconnect: a new team, a deletion.
            blue.manager.remove_destination(dest)
            await wait_until(lambda: not staff.manager.connections)
            staff.add_teams(("blue reserve", Side.BLUE))
            staff.delete_team("blue team")
            sync_manager_destinations(blue.manager)
            await wait_until(lambda: blue.names() == {"blue reserve"})

            # And live floods both ways once connected.
            staff.add_teams(("blue third", Side.BLUE))
            await wait_until(lambda: "blue third" in blue.names())
        finally:
            await blue.close()
            await staff.close()

    run(scenario(), timeout=40.0)
