"""The WebSocket transport between real managers over loopback (PROTOCOL.md §16.1)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from exercise_sync import Side
from presence_sync import Cursor
from ws_helpers import (
    Sessions,
    client,
    run,
    server,
    url_of,
    user_hash,
    wait_until,
    ws_destination,
)

from entanglement.interface import SyncUnauthorized
from entanglement.network import SyncDestinationBase
from entanglement.websocket import WebSocketProtocol, serve_websocket


async def _pair(
    srv: Any, cli: Any, sessions: Sessions, user: str = "ann", **dest_kwargs: Any
) -> tuple[Any, Any]:
    listener = await serve_websocket(srv, sessions, path="/sync")
    at_cli = ws_destination(url_of(listener, user), **dest_kwargs)
    task = cli.add_destination(at_cli)
    assert task is not None
    await task
    await wait_until(lambda: srv.dest_by_hash(user_hash(user)) in _live(srv))
    return at_cli, srv.dest_by_hash(user_hash(user))


def _live(manager: Any) -> list[Any]:
    return [p.dest for p in manager.connections]


def _cursor(who: uuid.UUID, x: float = 0.0) -> Cursor:
    return Cursor(participant=who, board="map", x=x, color=0x123456, side=Side.RED)


def test_objects_flow_both_ways_and_coalesce() -> None:
    async def scenario() -> None:
        srv, rs = server()
        cli, rc = client()
        async with srv, cli:
            await _pair(srv, cli, Sessions("ann"))
            mine, theirs = uuid.uuid4(), uuid.uuid4()
            rs.store_synchronize(_cursor(mine, 1.5))
            at_cli = rc.store_for_class(Cursor)
            await wait_until(lambda: (mine, "map") in at_cli)
            got = at_cli[(mine, "map")]
            assert (got.x, got.color, got.side) == (1.5, 0x123456, Side.RED)

            ours = _cursor(theirs)
            rc.store_synchronize(ours)
            at_srv = rs.store_for_class(Cursor)
            await wait_until(lambda: (theirs, "map") in at_srv)
            for step in range(200):  # coalescing by key: the last position wins
                ours.x = float(step)
                rc.store_synchronize(ours)
            await wait_until(lambda: at_srv[(theirs, "map")].x == 199.0)

    run(scenario())


def test_unknown_session_is_refused_and_retried() -> None:
    async def scenario() -> None:
        srv, _ = server()
        cli, _ = client(backoff=0.05)
        sessions = Sessions("ann")
        async with srv, cli:
            listener = await serve_websocket(srv, sessions, path="/sync")
            cli.add_destination(ws_destination(url_of(listener, "mallory")))
            await wait_until(lambda: len(sessions.requests) >= 2)  # refused, retried
            assert not srv.connections
            assert not cli.connections
            assert srv.dest_by_hash(user_hash("mallory")) is None

    run(scenario())


def test_cookie_session_and_request_visible_to_hooks() -> None:
    seen: list[Any] = []

    class Dest(SyncDestinationBase):
        async def connected(self, manager: Any, protocol: Any, bw: Any) -> bool:
            seen.append(protocol)
            return await super().connected(manager, protocol, bw)

    async def scenario() -> None:
        srv, _ = server()
        cli, _ = client()
        async with srv, cli:
            listener = await serve_websocket(srv, Sessions("bob", dest_class=Dest))
            port = listener.sockets[0].getsockname()[1]
            dest = ws_destination(
                f"ws://127.0.0.1:{port}/", headers={"Cookie": "user=bob; theme=dark"}
            )
            await cli.add_destination(dest)  # type: ignore[misc]
            await wait_until(lambda: bool(seen) and bool(srv.connections))
            [protocol] = seen
            assert isinstance(protocol, WebSocketProtocol)
            assert protocol.ws_handler.cookies == {"user": "bob", "theme": "dark"}
            assert protocol.ws_request.path == "/"
            assert protocol.dest_hash == user_hash("bob")

    run(scenario())


def test_policy_hooks_apply_to_websocket_peers() -> None:
    class Picky(SyncDestinationBase):
        def should_send(self, obj: Any, **info: Any) -> bool:
            return getattr(obj, "x", 0.0) >= 0

        def should_listen(self, msg: dict[str, Any], cls: type, **info: Any) -> bool:
            if msg.get("board") == "secret":
                raise SyncUnauthorized("no secret boards from browsers")
            return True

    async def scenario() -> None:
        srv, rs = server()
        cli, rc = client()
        async with srv, cli:
            await _pair(srv, cli, Sessions("ann", dest_class=Picky))
            hidden, shown = uuid.uuid4(), uuid.uuid4()
            rs.store_synchronize(_cursor(hidden, -1.0))
            rs.store_synchronize(_cursor(shown, 1.0))
            at_cli = rc.store_for_class(Cursor)
            await wait_until(lambda: (shown, "map") in at_cli)
            assert (hidden, "map") not in at_cli

            secret = Cursor(participant=uuid.uuid4(), board="secret", side=Side.RED)
            refused = rc.store_synchronize(secret, response=True)
            with pytest.raises(SyncUnauthorized, match="no secret boards"):
                await refused
            assert (secret.participant, "secret") not in rs.store_for_class(Cursor)

    run(scenario())


def test_ephemeral_destination_removed_on_close_unless_kept() -> None:
    class Kept(SyncDestinationBase):
        ephemeral = False

    async def scenario() -> None:
        srv, _ = server()
        cli, _ = client()
        async with srv, cli:
            sessions = Sessions("ann")
            at_cli, at_srv = await _pair(srv, cli, sessions)
            cli.remove_destination(at_cli)
            await wait_until(lambda: srv.dest_by_hash(user_hash("ann")) is None)
            assert at_srv.protocol is None

            kept = Sessions("ann", dest_class=Kept)
            at_cli, at_srv = await _pair(srv, cli, kept)
            cli.remove_destination(at_cli)
            await wait_until(lambda: not srv.connections)
            assert srv.dest_by_hash(user_hash("ann")) is at_srv
            assert at_srv.protocol is None

    run(scenario())


def test_client_reconnects_after_the_server_drops_it() -> None:
    async def scenario() -> None:
        srv, rs = server()
        cli, rc = client(backoff=0.05)
        async with srv, cli:
            sessions = Sessions("ann")
            at_cli, at_srv = await _pair(srv, cli, sessions)
            first = at_cli.protocol
            at_srv.protocol.abort()
            await wait_until(lambda: len(sessions.requests) >= 2)
            await wait_until(lambda: bool(srv.connections))
            await wait_until(lambda: at_cli.protocol not in (None, first))
            who = uuid.uuid4()
            rs.store_synchronize(_cursor(who, 7.0))
            await wait_until(lambda: (who, "map") in rc.store_for_class(Cursor))

    run(scenario())


def test_the_websocket_listener_is_the_managers_and_closes_with_it() -> None:
    # serve_websocket hands its listener to the SyncServer (add_listener): it is
    # listed beside the TLS ones and stops accepting when the manager closes.
    async def scenario() -> None:
        srv, _ = server()
        async with srv:
            listener = await serve_websocket(srv, Sessions("ann"), path="/sync")
            assert listener in srv.servers
            assert not srv.closing
        assert srv.closing
        await listener.wait_closed()  # closed by the manager, not by us
        assert not listener.is_serving()

    run(scenario())
