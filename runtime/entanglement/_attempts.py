"""The attempts and live connections of a manager, per destination (PROTOCOL.md §5.4-§5.6).

Per destination at most one *attempt* is in progress: an outgoing connect task, or an
accepted connection whose ``connected()`` hook is running.  A connection becomes *live*
(``manager._connections``) only after ``connected()`` returned; while it runs the
destination is "connecting" and explicit ``synchronize(..., destinations=[dest])`` can
already use the connection.

This is the state the outgoing side (:mod:`entanglement._connect`) and the incoming
side (:mod:`entanglement._accept`) share, and the bookkeeping both do on it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from entanglement._destinations import SyncDestinationBase
    from entanglement._hashes import CertHash, DestHash
    from entanglement.protocol import SyncProtocol

__all__ = ["Attempt", "AttemptsMixin"]

log = logging.getLogger("entanglement")


@dataclass(slots=True)
class Attempt:
    """One destination's attempt in progress (outgoing task or incoming set-up)."""

    task: asyncio.Task[Any] | None
    protocol: SyncProtocol | None = None
    in_flight: bool = False


class AttemptsMixin:
    """The per-destination connection state of a manager; mixed into SyncManager."""

    loop: asyncio.AbstractEventLoop
    cert_hash: CertHash | None
    initial_backoff: float
    max_backoff: float
    handshake_timeout: float
    _destinations: dict[DestHash, SyncDestinationBase]
    _connections: dict[DestHash, SyncProtocol]
    _closing: bool

    if TYPE_CHECKING:  # provided by SyncManager

        def create_task(
            self, coro: Any, *, name: str | None = None
        ) -> asyncio.Task[Any]: ...

        async def unknown_destination(self, protocol: SyncProtocol) -> Any: ...

        def _receive_events(self, protocol: SyncProtocol, events: Any) -> None: ...

        def add_destination(self, dest: Any) -> Any: ...

    def _init_connect_state(self) -> None:
        # Every protocol with a transport, live or not (self-connections, connections
        # waiting on a tie-break): shutdown closes them all.
        self._protocols: set[SyncProtocol] = set()
        self._attempts: dict[DestHash, Attempt] = {}
        self._backoff: dict[DestHash, float] = {}
        self._connected_since: dict[DestHash, float] = {}

    # -- bookkeeping -------------------------------------------------------------

    def _connecting_protocol(self, dest_hash: DestHash | None) -> SyncProtocol | None:
        attempt = self._attempts.get(dest_hash) if dest_hash else None
        return attempt.protocol if attempt is not None else None

    def _all_protocols(self) -> list[SyncProtocol]:
        protocols = set(self._protocols) | set(self._connections.values())
        for attempt in self._attempts.values():
            if attempt.protocol is not None:
                protocols.add(attempt.protocol)
        return list(protocols)

    def _connection_made(self, protocol: SyncProtocol) -> None:
        if self._closing:
            protocol.abort()
            return
        self._protocols.add(protocol)

    def _stop_connecting(self, dest_hash: DestHash) -> None:
        attempt = self._attempts.pop(dest_hash, None)
        if attempt is None:
            return
        if attempt.task is not None and attempt.task is not asyncio.current_task():
            attempt.task.cancel()
        if attempt.protocol is not None:
            attempt.protocol.abort()

    def _register_live(self, dest: SyncDestinationBase, protocol: SyncProtocol) -> None:
        dest_hash = dest.dest_hash
        assert dest_hash is not None
        old = self._connections.get(dest_hash)
        self._connections[dest_hash] = protocol
        self._connected_since[dest_hash] = self.loop.time()
        if old is not None and old is not protocol:
            old.close()
        log.info("%s: connected", protocol.peer_name)
