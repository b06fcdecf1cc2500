"""SyncManager: one identity, its destinations, registries and connections (§5.2, §7).

Choices where the spec is silent or where we fixed a quirk:

* Event loops.  ``loop=None`` uses the running loop when constructed inside one
  (``asyncio.run`` style, shut down with ``async with manager:`` or ``await
  manager.aclose()``), else creates a private loop that :meth:`SyncManager.close`
  spins down and closes (the original's style: configure, then
  ``manager.loop.run_until_complete(...)``).
* Registries (quirks 23, 24): the given list is copied, never modified; lookup order is
  the given order, then inherited registries, then the error registry.
* Tasks: everything the manager starts (connect attempts, accepted-connection setup,
  callbacks returning coroutines) is created through :meth:`SyncManager.create_task`,
  tracked, and cancelled and awaited on close.  Other layers (the SQL resync) use the
  same method for their background work.  A task ending in a TransportError (it
  waited on a connection that dropped) is logged at INFO without a traceback: the
  connection's loss is handled, and logged, where it happens (issue 10 item 17).
* Sending lives in :mod:`entanglement._send`, receiving in
  :mod:`entanglement._receive`, connections in :mod:`entanglement._connect`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from entanglement._connect import ConnectMixin
from entanglement._destinations import SyncDestinationBase, as_dest_hash
from entanglement._exceptions import TransportError
from entanglement._hashes import CertHash, DestHash, certhash_from_file
from entanglement._plansend import SendPlan
from entanglement._receive import ReceiveMixin, default_registries
from entanglement._send import SendMixin
from entanglement._tls import client_context, server_context
from entanglement._wire_errors import SyncNotConnected
from entanglement.protocol import SyncProtocol

__all__ = ["SyncManager"]

log = logging.getLogger("entanglement")

PathLike = str | os.PathLike[str]


class SyncManager(SendMixin, ConnectMixin, ReceiveMixin):
    """Manages the connections of one identity (certificate) to its destinations.

    Args:
        cert: our certificate (PEM path); None for unix-only use (no ``cert_hash``).
        port: default remote port of outgoing TLS connections.
        key: our private key (PEM path); None when it is inside ``cert``.
        loop: the event loop; default: the running one, else a private new one.
        capath: directory of CA certificates.
        cafile: CA certificates (PEM).
        registries: registries of the classes this manager synchronises.
    """

    handshake_timeout = 10.0
    initial_backoff = 1.0
    max_backoff = 600.0

    def __init__(
        self,
        cert: PathLike | None,
        port: int | None,
        *,
        key: PathLike | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        capath: PathLike | None = None,
        cafile: PathLike | None = None,
        registries: Iterable[Any] | None = None,
    ) -> None:
        self.loop, self._owns_loop = _choose_loop(loop)
        self.cert, self.key, self.port = cert, key, port
        self.cafile, self.capath = cafile, capath
        self.cert_hash: CertHash | None = (
            certhash_from_file(cert) if cert is not None else None
        )
        self.registries = default_registries(list(registries or ()))
        self._destinations: dict[DestHash, SyncDestinationBase] = {}
        self._connections: dict[DestHash, SyncProtocol] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._send_plans: dict[type, SendPlan] = {}
        self._client_ctx: ssl.SSLContext | None = None
        self._server_ctx: ssl.SSLContext | None = None
        self._closing = False
        self._listen_base_ran = False
        self._init_connect_state()
        for registry in self.registries:
            registry.associate_with_manager(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.cert_hash}>"

    # -- TLS ---------------------------------------------------------------------

    def client_ssl_context(self) -> ssl.SSLContext:
        """The (cached) context for outgoing TLS connections."""
        if self._client_ctx is None:
            self._client_ctx = client_context(
                self.cert, self.key, cafile=self.cafile, capath=self.capath
            )
        return self._client_ctx

    def server_ssl_context(self) -> ssl.SSLContext:
        """The (cached) context for accepted TLS connections."""
        if self._server_ctx is None:
            if self.cert is None:
                raise ValueError("a TLS listener needs a certificate (cert=...)")
            self._server_ctx = server_context(
                self.cert, self.key, cafile=self.cafile, capath=self.capath
            )
        return self._server_ctx

    # -- destinations ------------------------------------------------------------

    @property
    def destinations(self) -> set[SyncDestinationBase]:
        """The destinations of this manager."""
        return set(self._destinations.values())

    @property
    def connections(self) -> list[SyncProtocol]:
        """The live connections."""
        return list(self._connections.values())

    def dest_by_hash(self, dest_hash: DestHash | str | bytes | None) -> Any:
        """Return the destination with this hash (text, bytes or DestHash), or None."""
        if dest_hash is None:
            return None
        try:
            key = as_dest_hash(dest_hash)
        except ValueError:
            return None
        return self._destinations.get(key) if key is not None else None

    def add_destination(self, dest: SyncDestinationBase) -> asyncio.Task[Any] | None:
        """Add a destination; start connecting to it when it can connect.

        Args:
            dest: the destination (needs ``dest_hash`` and ``name``).

        Returns:
            The connect task (its result is ``(transport, protocol)``), or None.

        Raises:
            ValueError: ``dest_hash`` or ``name`` is missing.
            KeyError: a destination with that hash exists already.
        """
        if dest.dest_hash is None or dest.name is None:
            raise ValueError(f"{dest!r}: a destination needs a dest_hash and a name")
        if dest.dest_hash in self._destinations:
            raise KeyError(f"a destination for {dest.dest_hash} exists already")
        if dest.protocol is not None and not dest.protocol.closed:
            raise ValueError(f"{dest!r} is connected through another manager")
        dest.protocol = None
        self._destinations[dest.dest_hash] = dest
        if dest.can_connect and not self._closing:
            return self._start_connecting(dest)
        return None

    def remove_destination(self, dest: SyncDestinationBase) -> None:
        """Forget a destination: close its connection (no reconnect), stop attempts."""
        dest_hash = dest.dest_hash
        if dest_hash is None or self._destinations.get(dest_hash) is not dest:
            raise KeyError(f"{dest!r} is not a destination of this manager")
        del self._destinations[dest_hash]
        self._stop_connecting(dest_hash)
        protocol = self._connections.pop(dest_hash, None)
        if protocol is not None:
            protocol.close()
        dest.protocol = None

    async def unknown_destination(self, protocol: SyncProtocol) -> Any:
        """Extension point: a destination for an unknown peer, or None to refuse it."""
        return None

    # -- tasks and shutdown ------------------------------------------------------

    def create_task(
        self, coro: Awaitable[Any], *, name: str | None = None
    ) -> asyncio.Task[Any]:
        """Start a task owned by the manager (cancelled and awaited on close).

        ``coro`` may be any awaitable (a future such as ``protocol.sync_drain()``'s too).
        """
        if not asyncio.iscoroutine(coro):
            coro = _awaiting(coro)
        task = self.loop.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, TransportError | SyncNotConnected):
            # A task waiting on a connection that dropped (a drain), or sending to a
            # destination that is no longer connected (an answer to a peer gone
            # meanwhile): the loss itself is logged and handled (reconnect) by the
            # connection (issue 10 item 17), so one line, no traceback.
            log.info("task %s ended: %s", task.get_name(), exc)
        elif exc is not None:
            # Owned tasks handle their expected failures themselves (connect attempts
            # retry, resyncs abort with the connection); anything reaching here is a
            # real failure that would otherwise vanish, so log it with its traceback.
            log.error("task %s failed: %r", task.get_name(), exc, exc_info=exc)

    async def aclose(self) -> None:
        """Close listeners, connections and attempts; wait until all have finished."""
        self._closing = True
        self._close_listeners()
        for task in list(self._tasks):
            task.cancel()
        protocols = self._all_protocols()
        self._connections.clear()
        for protocol in protocols:
            protocol.close()
        while self._tasks:  # tasks may start others while being cancelled
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._wait_protocols(protocols + self._all_protocols())
        await self._wait_listeners()
        for callback in self.__dict__.pop("_close_callbacks", []):
            try:
                callback(self)
            except Exception:  # one layer's failure must not keep the rest open
                log.exception("a close callback of %r failed", self)

    def on_close(self, callback: Callable[[SyncManager], None]) -> None:
        """Call ``callback(manager)`` once :meth:`aclose` has closed every connection.

        The SQL layer stores the rows still waiting in its receive batch and closes
        that batch's session, so no database connection outlives the manager.
        Registering the same callback twice has no effect.
        """
        callbacks: list[Callable[[SyncManager], None]] = self.__dict__.setdefault(
            "_close_callbacks", []
        )
        if callback not in callbacks:
            callbacks.append(callback)

    async def _wait_protocols(self, protocols: list[SyncProtocol]) -> None:
        # A graceful TLS close waits for the peer's close_notify; give it a moment,
        # then abort whatever is left.
        protocols = list(set(protocols))
        for protocol in protocols:
            protocol.close()
        waits = [p.wait_closed() for p in protocols]
        try:
            async with asyncio.timeout(2.0):
                await asyncio.gather(*waits)
        except TimeoutError:
            for protocol in protocols:
                protocol.abort()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await asyncio.gather(*(p.wait_closed() for p in protocols))

    def run_until_complete(self, awaitable: Any) -> Any:
        """Run ``awaitable`` on the manager's loop until it completes (the original's
        style: a manager owning its loop, driven from synchronous code).

        Returns:
            The awaitable's result.
        """
        return self.loop.run_until_complete(awaitable)

    def close(self) -> None:
        """Close everything; a private event loop is spun down and closed too.

        Inside a running loop this only starts the shutdown; await :meth:`aclose`
        (or use ``async with manager:``) to wait for it.
        """
        if self.loop.is_running():
            self._closing = True
            self._close_listeners()
            for task in list(self._tasks):
                task.cancel()
            for protocol in self._all_protocols():
                protocol.abort()
            self._connections.clear()
            return
        if self.loop.is_closed():
            return
        self.loop.run_until_complete(self.aclose())
        if self._owns_loop:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    async def __aenter__(self) -> SyncManager:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _close_listeners(self) -> None:
        """Overridden by SyncServer."""

    async def _wait_listeners(self) -> None:
        """Overridden by SyncServer."""


def _choose_loop(
    loop: asyncio.AbstractEventLoop | None,
) -> tuple[asyncio.AbstractEventLoop, bool]:
    if loop is not None:
        return loop, False
    try:
        return asyncio.get_running_loop(), False
    except RuntimeError:
        return asyncio.new_event_loop(), True


async def _awaiting(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
