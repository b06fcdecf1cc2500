"""WebSocket peers: the server endpoint of §16.1 and an outgoing WebSocket destination.

A browser (or Node) peer connects to :func:`serve_websocket`.  Before the upgrade, the
application's ``find_destination(request)`` hook (the original's
``find_sync_destination``) maps the HTTP request (path, headers, cookies) to a
destination, which is the peer's identity: its ``dest_hash`` (§2.2, the transport
proves nothing).  None refuses the upgrade with HTTP 403 "Not authorized destination".
Then, as for TLS and unix peers, the normal incoming procedure runs (§5.5: the
destination is added to the manager if absent, ``connected()`` runs, then the
connection is live), so registries, ``should_send``/``should_listen`` and the SQL
catch-up of a ``SqlSyncDestination`` apply unchanged.  Hooks reach the request as
``protocol.ws_handler`` (the original's name) or ``protocol.ws_request``.  On close the
destination is removed from the manager unless it has ``ephemeral = False`` (§16.1),
and unless a newer connection of the same destination is using it.

:class:`WebSocketDestination` connects *out* to such an endpoint (Python to Python over
WebSocket, e.g. through an HTTP proxy), with the usual reconnect backoff of §5.4.

Why ``websockets``: it is the maintained asyncio-native WebSocket library (no framework,
no thread), with both server and client, RFC 6455 handshake checks, ping/pong keepalive,
size limits and back-pressure built in, and a ``process_request`` hook that sees the
HTTP request before the upgrade, which is exactly where the application authenticates
the browser's session.  An ASGI route would tie the runtime to one server framework.

Choices where the spec is silent:

* The listener is registered with the manager like the TLS and unix listeners (when the
  manager has them, i.e. a SyncServer), so ``aclose()`` closes it and its connections.
* A hook that raises answers HTTP 500 (logged with its traceback); the hook may be a
  coroutine function.  ``path`` (when given) must match the request path (else 404).
* When the destination's hash is already known to the manager, the manager's own
  destination object is used.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import ssl as ssl_module
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.cookies import SimpleCookie
from typing import Any

from websockets.asyncio.client import connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI
from websockets.http11 import Request, Response

from entanglement._destinations import SyncDestinationBase
from entanglement._exceptions import ConnectError
from entanglement.protocol import BandwidthProtocol, SyncProtocol
from entanglement.websocket_transport import MAX_MESSAGE, MAX_QUEUE, WebSocketTransport

__all__ = [
    "FindDestination",
    "WebSocketConnectMixin",
    "WebSocketDestination",
    "WebSocketProtocol",
    "WebSocketRequest",
    "serve_websocket",
]

log = logging.getLogger("entanglement")

NOT_AUTHORIZED = "Not authorized destination\n"


@dataclass(frozen=True)
class WebSocketRequest:
    """The HTTP request that opened a WebSocket, as the destination hook sees it.

    Attributes:
        path: the request target (path and query).
        headers: the request headers.
        remote_address: the peer's socket address.
        connection: the ``websockets`` server connection.
    """

    path: str
    headers: Headers
    remote_address: Any
    connection: ServerConnection = field(repr=False)

    @property
    def cookies(self) -> dict[str, str]:
        """The request's cookies (name to value)."""
        jar: SimpleCookie = SimpleCookie()
        for value in self.headers.get_all("Cookie"):
            jar.load(value)
        return {name: morsel.value for name, morsel in jar.items()}


FindDestination = Callable[
    [WebSocketRequest],
    "SyncDestinationBase | Awaitable[SyncDestinationBase | None] | None",
]


class WebSocketProtocol(SyncProtocol):
    """A SyncProtocol accepted over WebSocket; hooks can read the request.

    Attributes:
        ws_handler: the :class:`WebSocketRequest` (the original's attribute name).
    """

    ws_handler: WebSocketRequest

    @property
    def ws_request(self) -> WebSocketRequest:
        """The request that opened this connection."""
        return self.ws_handler


class _Endpoint:
    """What the ``websockets`` server calls: authentication, then the connection."""

    def __init__(
        self, manager: Any, find_destination: FindDestination, path: str | None
    ) -> None:
        self.manager = manager
        self.find_destination = find_destination
        self.path = path
        # Weak: a handshake that fails after the hook leaves nothing behind.
        self.accepted: weakref.WeakKeyDictionary[
            ServerConnection, tuple[Any, WebSocketRequest]
        ] = weakref.WeakKeyDictionary()

    async def process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        if self.path is not None and request.path.split("?")[0] != self.path:
            return connection.respond(HTTPStatus.NOT_FOUND, "Not found\n")
        if self.manager.closing:
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "Closing\n")
        wsreq = WebSocketRequest(
            request.path, request.headers, connection.remote_address, connection
        )
        try:
            dest = self.find_destination(wsreq)
            if inspect.isawaitable(dest):
                dest = await dest
        except Exception:
            log.exception("websocket %s: find_destination failed", _addr(wsreq))
            return connection.respond(HTTPStatus.INTERNAL_SERVER_ERROR, "Error\n")
        if dest is None:
            log.info("websocket %s: not an authorized destination", _addr(wsreq))
            return connection.respond(HTTPStatus.FORBIDDEN, NOT_AUTHORIZED)
        if dest.dest_hash is None or dest.name is None:
            log.error(
                "websocket %s: %r needs a dest_hash and a name", _addr(wsreq), dest
            )
            return connection.respond(HTTPStatus.INTERNAL_SERVER_ERROR, "Error\n")
        self.accepted[connection] = (dest, wsreq)
        return None

    async def handle(self, connection: ServerConnection) -> None:
        try:
            dest, wsreq = self.accepted.pop(connection)
        except KeyError:
            return
        manager = self.manager
        dest = self._adopt(dest)
        if dest is None:
            await connection.close(1011, "cannot add the destination")
            return
        protocol = WebSocketProtocol(
            manager,
            incoming=True,
            dest_hash=dest.dest_hash,
            peer_address=connection.remote_address,
        )
        protocol.ws_handler = wsreq
        bw = BandwidthProtocol(protocol)
        transport = WebSocketTransport(connection, bw)
        transport.start()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(transport.run())
                await manager.serve_incoming(protocol, bw)
        finally:
            self._forget(dest, protocol)

    def _adopt(self, dest: Any) -> Any:
        known = self.manager.dest_by_hash(dest.dest_hash)
        if known is not None:
            return known
        try:
            self.manager.add_destination(dest)
        except (ValueError, KeyError) as exc:
            log.error("websocket: cannot add %r: %s", dest, exc)
            return None
        return dest

    def _forget(self, dest: Any, protocol: SyncProtocol) -> None:
        manager = self.manager
        if not getattr(dest, "ephemeral", True) or manager.closing:
            return
        if manager.dest_by_hash(dest.dest_hash) is not dest:
            return
        newer = dest.protocol is not None and dest.protocol is not protocol
        if newer or any(p.dest is dest for p in manager.connections):
            return  # a newer connection of this destination uses it
        manager.remove_destination(dest)


async def serve_websocket(
    manager: Any,
    find_destination: FindDestination,
    *,
    host: str | None = "127.0.0.1",
    port: int = 0,
    path: str | None = None,
    ssl: ssl_module.SSLContext | None = None,
) -> Server:
    """Accept WebSocket peers (§16.1) for ``manager``.

    Args:
        manager: the SyncServer (any SyncManager works; a SyncServer also closes
            the listener in ``aclose()``).
        find_destination: ``hook(request)`` returning the peer's destination, or
            None to refuse it (HTTP 403); may be a coroutine function.
        host: the address to listen on (None: all).
        port: the port (0 picks a free one: see ``server.sockets``).
        path: when set, the only request path accepted.
        ssl: a server SSL context for ``wss://``.

    Returns:
        The listening ``websockets`` server.
    """
    endpoint = _Endpoint(manager, find_destination, path)
    server = await serve(
        endpoint.handle,
        host,
        port,
        process_request=endpoint.process_request,
        ssl=ssl,
        max_size=MAX_MESSAGE,
        max_queue=MAX_QUEUE,
        compression=None,
    )
    add_listener = getattr(manager, "add_listener", None)  # a SyncServer's
    if add_listener is not None:
        add_listener(server)  # closed with the manager
    return server


class WebSocketConnectMixin:
    """Connecting out over WebSocket, for any destination class (see
    :class:`WebSocketDestination`, and ``SqlWebSocketDestination`` in
    :mod:`entanglement.websocket_sql`).

    The class provides ``websocket_url``; ``ws_headers`` (extra request headers: a
    session cookie, a token) and ``ws_ssl`` (a client SSL context for ``wss://``) are
    optional attributes.  The transport does not prove the peer's identity:
    ``dest_hash`` is what the application says the endpoint is (for ``wss://`` the TLS
    certificate is checked against ``ws_ssl``'s CAs and the URL's host name).
    """

    ws_headers: Mapping[str, str] | None = None
    ws_ssl: ssl_module.SSLContext | None = None

    @property
    def websocket_url(self) -> str | None:
        """The endpoint (``ws://`` or ``wss://``); None when it cannot connect."""
        raise NotImplementedError

    @property
    def can_connect(self) -> bool:
        """True when the URL is known."""
        return self.websocket_url is not None

    @property
    def verifies_identity(self) -> bool:
        """The WebSocket carries no certificate identity of its own."""
        return False

    async def open_transport(
        self, manager: Any, factory: Callable[[], asyncio.Protocol]
    ) -> tuple[asyncio.BaseTransport, asyncio.Protocol]:
        """Open the WebSocket; the transport's task is owned by the manager.

        Raises:
            ConnectError: the handshake failed (refused, not a WebSocket endpoint).
            ValueError: there is no URL or it is not a WebSocket URL (no retry).
        """
        url = self.websocket_url
        if url is None:
            raise ValueError(f"{self!r} has no WebSocket URL")
        try:
            websocket = await connect(
                url,
                additional_headers=self.ws_headers,
                ssl=self.ws_ssl,
                max_size=MAX_MESSAGE,
                max_queue=MAX_QUEUE,
                compression=None,
                open_timeout=manager.handshake_timeout,
            )
        except InvalidURI as exc:
            raise ValueError(str(exc)) from exc
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise ConnectError(f"{url} refused the WebSocket: HTTP {status}") from exc
        except InvalidHandshake as exc:
            raise ConnectError(f"{url}: {exc}") from exc
        protocol = factory()
        transport = WebSocketTransport(websocket, protocol)
        transport.start()
        manager.create_task(transport.run(), name=f"websocket {url}")
        return transport, protocol


class WebSocketDestination(WebSocketConnectMixin, SyncDestinationBase):
    """A peer reached by connecting to its WebSocket endpoint (``ws://``, ``wss://``).

    Args:
        dest_hash: the peer's identity (what the application says it is).
        name: a name for logs.
        url: the endpoint.
        headers: extra request headers (a session cookie, a token).
        ssl: a client SSL context for ``wss://``.
        bw_per_sec: bandwidth budget in bytes per second.
    """

    def __init__(
        self,
        dest_hash: Any,
        name: str | None,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        ssl: ssl_module.SSLContext | None = None,
        bw_per_sec: int = 10_000_000_000,
    ) -> None:
        super().__init__(dest_hash, name, bw_per_sec)
        self.url = url
        self.ws_headers = dict(headers or {})
        self.ws_ssl = ssl

    @property
    def websocket_url(self) -> str | None:
        """The endpoint."""
        return self.url


def _addr(request: WebSocketRequest) -> str:
    address = request.remote_address
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)
