"""Destinations: the local representation of remote peers (PROTOCOL.md §5.3).

A destination carries the peer's identity (``dest_hash``), a name for humans and logs,
policy hooks (``should_send``, ``should_listen``), a bandwidth budget, how to reach the
peer (``host``/``port``/``server_hostname`` for TLS, ``path`` for unix sockets) and the
``connected()`` hook, which runs for every new connection before it counts as live.

Choices where the spec is silent or where we fixed a quirk:

* ``connection_lost`` clears ``dest.protocol`` when it still names the lost connection
  (quirk 18: the original left it pointing at the dead one).
* ``connect_at`` is on the event loop's clock (``loop.time()``), not wall-clock time.
* Callbacks registered with ``on_connect(cb)`` run as ``cb()`` and those registered with
  ``on_connection_lost(cb)`` as ``cb(manager)``, each through ``loop.call_soon`` (never
  as tasks; a callback that returns a coroutine has it run as a manager-owned task).
* Runtime state is set by :meth:`SyncDestinationBase.init_runtime_state`; subclasses
  whose instances are not built through ``__init__`` (SQLAlchemy-loaded rows) call it
  when loaded.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from entanglement._hashes import DestHash

if TYPE_CHECKING:
    from entanglement.protocol import BandwidthProtocol, SyncProtocol

__all__ = ["OutgoingUnixDestination", "SyncDestination", "SyncDestinationBase"]


def as_dest_hash(value: DestHash | str | bytes | None) -> DestHash | None:
    """Normalise a hash given as DestHash, text or 32 raw bytes."""
    if value is None or isinstance(value, DestHash):
        return value
    if isinstance(value, str):
        return DestHash.parse(value)
    return DestHash(value)


class SyncDestinationBase:
    """Another SyncManager that can receive (and generate) synchronisations.

    Args:
        dest_hash: the peer's identity (DestHash, its text form or 32 bytes).
        name: a name for logs and messages.
        bw_per_sec: bandwidth budget in bytes per second.
    """

    def __init__(
        self,
        dest_hash: DestHash | str | bytes | None = None,
        name: str | None = None,
        bw_per_sec: int = 10_000_000_000,
    ) -> None:
        self.dest_hash = as_dest_hash(dest_hash)
        self.name = name
        self.bw_per_sec = bw_per_sec
        self.init_runtime_state()

    def init_runtime_state(self) -> None:
        """(Re)set the attributes that only live in memory."""
        self.protocol: SyncProtocol | None = None
        self.connect_at = 0.0
        self.on_connect_callbacks: list[Callable[[], Any]] = []
        self.on_connection_lost_callbacks: list[Callable[[Any], Any]] = []

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.dest_hash}>"

    @property
    def can_connect(self) -> bool:
        """True when we know how to open a connection to this peer."""
        return False

    def should_send(self, obj: Any, **info: Any) -> bool:
        """Send policy: return False to skip this destination for ``obj``."""
        return True

    def should_listen(self, msg: dict[str, Any], cls: type, **info: Any) -> bool:
        """Receive policy: must return True or raise."""
        return True

    async def connected(
        self, manager: Any, protocol: SyncProtocol, bwprotocol: BandwidthProtocol
    ) -> bool:
        """Called for every new connection, before it counts as live.

        Remembers the protocol, applies ``bw_per_sec`` and schedules the on-connect
        callbacks.  Incoming messages are already processed while this runs.  If it
        raises, the connection is closed.

        Args:
            manager: the SyncManager.
            protocol: the new connection.
            bwprotocol: its bandwidth limiter.

        Returns:
            True.
        """
        self.protocol = protocol
        bwprotocol.bw_per_sec = self.bw_per_sec
        for callback in self.on_connect_callbacks:
            manager.loop.call_soon(_run_callback, manager, callback)
        return True

    def connection_lost(self, manager: Any) -> None:
        """Called after the live connection to this destination was lost."""
        for callback in self.on_connection_lost_callbacks:
            manager.loop.call_soon(_run_callback, manager, callback, manager)

    def on_connect(self, callback: Callable[[], Any]) -> None:
        """Call ``callback()`` soon after each connection is made."""
        self.on_connect_callbacks.append(callback)

    def on_connection_lost(self, callback: Callable[[Any], Any]) -> None:
        """Call ``callback(manager)`` soon after each connection is lost."""
        self.on_connection_lost_callbacks.append(callback)

    async def open_transport(
        self, manager: Any, factory: Callable[[], asyncio.Protocol]
    ) -> tuple[asyncio.BaseTransport, asyncio.Protocol]:
        """Open a connection to the peer (only for destinations that can connect)."""
        raise NotImplementedError(f"{self!r} cannot open connections")

    @property
    def verifies_identity(self) -> bool:
        """True when an outgoing connection must present ``dest_hash`` (TLS)."""
        return False


class SyncDestination(SyncDestinationBase):
    """A peer reached over TLS; it can connect out when ``host`` is set.

    Args:
        dest_hash: the peer's CertHash.
        name: a name for logs (defaults to the host).
        host: host name or address to connect to.
        bw_per_sec: bandwidth budget in bytes per second.
        server_hostname: name checked against the peer's certificate (default: host).
    """

    def __init__(
        self,
        dest_hash: DestHash | str | bytes | None = None,
        name: str | None = None,
        *,
        host: str | None = None,
        bw_per_sec: int = 10_000_000,
        server_hostname: str | None = None,
    ) -> None:
        super().__init__(dest_hash, name if name is not None else host, bw_per_sec)
        self.host = host
        self.server_hostname = server_hostname

    @property
    def can_connect(self) -> bool:
        """True when a host is configured."""
        return self.host is not None

    @property
    def verifies_identity(self) -> bool:
        """TLS peers must present the expected certificate."""
        return True

    async def open_transport(
        self, manager: Any, factory: Callable[[], asyncio.Protocol]
    ) -> tuple[asyncio.BaseTransport, asyncio.Protocol]:
        """Open a TLS connection (port: ``self.port`` if set, else the manager's)."""
        if self.host is None:
            raise ValueError(f"{self!r} has no host to connect to")
        port = getattr(self, "port", None) or manager.port
        loop: asyncio.AbstractEventLoop = manager.loop
        return await loop.create_connection(
            factory,
            self.host,
            port,
            ssl=manager.client_ssl_context(),
            server_hostname=self.server_hostname or self.host,
            ssl_handshake_timeout=manager.handshake_timeout,
        )


class OutgoingUnixDestination(SyncDestinationBase):
    """A peer reached over a unix socket at ``path`` (no identity check, §5.4).

    Args:
        dest_hash: any 32-byte identity (the unix transport cannot confirm it).
        name: a name for logs.
        path: the socket path.
        bw_per_sec: bandwidth budget in bytes per second.
    """

    def __init__(
        self,
        dest_hash: DestHash | str | bytes | None,
        name: str | None,
        path: str,
        *,
        bw_per_sec: int = 10_000_000_000,
    ) -> None:
        super().__init__(dest_hash, name, bw_per_sec)
        self.path = path

    @property
    def can_connect(self) -> bool:
        """Always: the path is known."""
        return True

    async def open_transport(
        self, manager: Any, factory: Callable[[], asyncio.Protocol]
    ) -> tuple[asyncio.BaseTransport, asyncio.Protocol]:
        """Connect to the unix socket."""
        loop: asyncio.AbstractEventLoop = manager.loop
        return await loop.create_unix_connection(factory, self.path)


def _run_callback(manager: Any, callback: Callable[..., Any], *args: Any) -> None:
    result = callback(*args)
    if inspect.isawaitable(result):
        manager.create_task(_await(result), name=f"callback {callback!r}")


async def _await(awaitable: Any) -> None:
    await awaitable
