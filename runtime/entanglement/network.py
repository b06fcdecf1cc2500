"""Managers, servers and destinations: the networking API of entanglement (§5, §7, §9).

The implementation is split into private modules, re-exported here:

* :mod:`entanglement._manager`: :class:`SyncManager` (registries, destinations, tasks,
  shutdown);
* :mod:`entanglement._send`: ``synchronize`` and the send policy chain;
* :mod:`entanglement._receive`: the receive pipeline (``_sync_receive``, the
  ``should_listen`` chains, errors sent back);
* :mod:`entanglement._connect`: outgoing attempts with backoff, incoming connections,
  mutual-open tie-break, connection loss;
* :mod:`entanglement._listeners`: what TLS and unix listeners hand each connection;
* :mod:`entanglement._destinations`: :class:`SyncDestinationBase`,
  :class:`SyncDestination`, :class:`OutgoingUnixDestination`.

:class:`SyncServer` (here) adds listeners.  ``listen_ssl``/``listen_unix`` work in both
styles: before the loop runs they start listening at once (running the loop just long
enough), inside a running loop they return a future to await.  Either way the return
value is a future whose result is the ``asyncio.Server``.  Closing the server removes
the unix socket files it created.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

from entanglement._destinations import (
    OutgoingUnixDestination,
    SyncDestination,
    SyncDestinationBase,
)
from entanglement._listeners import accepting_tls_protocol, accepting_unix_protocol
from entanglement._manager import SyncManager

__all__ = [
    "OutgoingUnixDestination",
    "SyncDestination",
    "SyncDestinationBase",
    "SyncManager",
    "SyncServer",
]


class SyncServer(SyncManager):
    """A SyncManager that also accepts connections (TLS and unix sockets).

    Args:
        cert: our certificate (PEM path).
        port: default port, for listening and for outgoing connections.
        cafile: CA certificates used to verify peers.
        capath: directory of CA certificates.
        key: our private key (PEM path).
        **kwargs: the other SyncManager arguments (``loop``, ``registries``).
    """

    def __init__(
        self,
        cert: str | os.PathLike[str] | None,
        port: int | None,
        *,
        cafile: str | os.PathLike[str] | None = None,
        capath: str | os.PathLike[str] | None = None,
        key: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(cert, port, cafile=cafile, capath=capath, key=key, **kwargs)
        self._servers: list[asyncio.Server] = []
        self._unix_paths: list[str] = []

    def listen_ssl(
        self, port: int | None = None, host: str | None = None
    ) -> asyncio.Future[asyncio.Server]:
        """Start listening for TLS connections.

        Args:
            port: None uses the constructor's port (0 picks a free port).
            host: None listens on all addresses, else a host name or address.

        Returns:
            A future of the ``asyncio.Server`` (already done when the loop was idle).
        """
        ctx = self.server_ssl_context()
        coro = self.loop.create_server(
            lambda: accepting_tls_protocol(self, ctx),
            host,
            self.port if port is None else port,  # type: ignore[arg-type]
            reuse_address=True,
            reuse_port=True,
        )
        return self._start_listener(coro)

    def listen_unix(
        self, path: str | os.PathLike[str]
    ) -> asyncio.Future[asyncio.Server]:
        """Listen on a unix socket at ``path`` (peers are identified by SO_PEERCRED).

        Returns:
            A future of the ``asyncio.Server`` (already done when the loop was idle).
        """
        self._unix_paths.append(os.fspath(path))
        coro = self.loop.create_unix_server(
            lambda: accepting_unix_protocol(self), os.fspath(path)
        )
        return self._start_listener(coro)

    def _start_listener(self, coro: Any) -> asyncio.Future[Any]:
        if self.loop.is_running():
            task: asyncio.Future[Any] = self.create_task(coro, name="listen")
            task.add_done_callback(self._listener_started)
            return task
        server = self.loop.run_until_complete(coro)
        self._servers.append(server)
        future = self.loop.create_future()
        future.set_result(server)
        return future

    def _listener_started(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None:
            return
        self.add_listener(future.result())

    @property
    def servers(self) -> list[asyncio.Server]:
        """The listening servers."""
        return list(self._servers)

    def add_listener(self, server: Any) -> None:
        """Close ``server`` with this manager, as its own listeners are.

        For listeners started outside this class (the WebSocket server of
        :func:`entanglement.websocket.serve_websocket`): any object with ``close()``
        and an awaitable ``wait_closed()``; it is listed in :attr:`servers`.
        """
        if self._closing:
            server.close()
        self._servers.append(server)

    def _close_listeners(self) -> None:
        for server in self._servers:
            server.close()

    async def _wait_listeners(self) -> None:
        servers, self._servers = self._servers, []
        for server in servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        paths, self._unix_paths = self._unix_paths, []
        for path in paths:  # asyncio (3.11) leaves the socket file behind
            with contextlib.suppress(OSError):
                os.unlink(path)
