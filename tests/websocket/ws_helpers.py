"""Helpers of the WebSocket tests: scenarios with a timeout, nodes with presence stores.

A *server* is a real SyncServer with the generated presence registry, accepting
WebSocket peers on 127.0.0.1 through :func:`entanglement.websocket.serve_websocket`;
a *client* is a SyncManager connecting to it with a
:class:`~entanglement.websocket.WebSocketDestination`.  Peers are identified by a
``?user=NAME`` query (or a cookie), as a web application identifies a session.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import Callable, Coroutine
from typing import Any

from presence_sync import new_registry

from entanglement._hashes import DestHash
from entanglement.network import SyncDestinationBase, SyncManager, SyncServer
from entanglement.websocket import WebSocketDestination, WebSocketRequest

SERVER_HASH = DestHash.from_string("websocket server")


def run(coro: Coroutine[Any, Any, Any], timeout: float = 20.0) -> Any:
    """Run a scenario in a fresh event loop, failing instead of hanging."""

    async def bounded() -> Any:
        async with asyncio.timeout(timeout):
            return await coro

    return asyncio.run(bounded())


async def wait_until(predicate: Callable[[], bool]) -> None:
    """Poll until ``predicate()`` holds (the scenario's timeout bounds it)."""
    while not predicate():  # noqa: ASYNC110 - stores signal nothing
        await asyncio.sleep(0.005)


def user_hash(user: str) -> DestHash:
    """The identity the test application gives a user's session."""
    return DestHash.from_string(f"user:{user}")


def user_of(request: WebSocketRequest) -> str | None:
    """The user named by the request's ``user`` query parameter or cookie."""
    query = urllib.parse.urlsplit(request.path).query
    users = urllib.parse.parse_qs(query).get("user")
    if users:
        return users[0]
    return request.cookies.get("user")


class Sessions:
    """A ``find_destination`` hook: known users get a destination, others None."""

    def __init__(self, *users: str, dest_class: type = SyncDestinationBase) -> None:
        self.users = set(users)
        self.dest_class = dest_class
        self.requests: list[WebSocketRequest] = []

    def __call__(self, request: WebSocketRequest) -> Any:
        self.requests.append(request)
        user = user_of(request)
        if user not in self.users:
            return None
        return self.dest_class(user_hash(user), f"browser {user}")


def server(**kwargs: Any) -> tuple[SyncServer, Any]:
    """A SyncServer (no certificate: WebSocket peers only) and its registry."""
    reg = new_registry()
    return SyncServer(None, 0, registries=[reg], **kwargs), reg


def client(backoff: float | None = None) -> tuple[SyncManager, Any]:
    """A client-only SyncManager (first reconnect delay ``backoff``) and its registry."""
    reg = new_registry()
    manager = SyncManager(None, 0, registries=[reg])
    if backoff is not None:
        manager.initial_backoff = backoff
    return manager, reg


def url_of(ws_server: Any, user: str = "ann", path: str = "/sync") -> str:
    """The URL of a listening websockets server, for ``user``."""
    port = ws_server.sockets[0].getsockname()[1]
    return f"ws://127.0.0.1:{port}{path}?user={user}"


def ws_destination(url: str, **kwargs: Any) -> WebSocketDestination:
    """The client's destination for the server."""
    return WebSocketDestination(SERVER_HASH, "server", url, **kwargs)
