"""Listener-side protocol factories: what a TLS or unix listener hands each connection.

A TLS listener gives every accepted TCP connection to :class:`_AcceptingTLS`, which
stops reading at once and hands the connection to the manager's accept task; that task
runs the TLS handshake itself (``loop.start_tls``) so that failures are logged with the
peer's address (see :mod:`entanglement._tls`).  A unix listener builds the connection's
:class:`~entanglement.protocol.BandwidthProtocol` directly; the peer is identified from
``SO_PEERCRED`` as soon as the connection is made.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from entanglement.protocol import BandwidthProtocol, SyncProtocol

__all__ = ["accepting_tls_protocol", "accepting_unix_protocol"]


class _AcceptingTLS(asyncio.Protocol):
    """Holds a fresh TCP connection until the manager's TLS handshake takes over."""

    def __init__(self, manager: Any, ctx: ssl.SSLContext) -> None:
        self.manager, self.ctx = manager, ctx

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.manager._closing:
            transport.abort()  # type: ignore[attr-defined]
            return
        # Not a byte may be read before start_tls owns the stream.
        transport.pause_reading()  # type: ignore[attr-defined]
        peer = transport.get_extra_info("peername")
        coro = self.manager._accept_tls(transport, self.ctx, peer)
        self.manager.create_task(coro, name=f"accept {peer}")


class _AcceptingUnix(BandwidthProtocol):
    """An accepted unix connection: identify the peer, then the incoming procedure."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        manager: Any = self.protocol.manager  # (a SyncManager: it accepts unix peers)
        manager._accept_unix(self.protocol, self)


def accepting_tls_protocol(manager: Any, ctx: ssl.SSLContext) -> asyncio.Protocol:
    """Protocol factory result for a TLS listener."""
    return _AcceptingTLS(manager, ctx)


def accepting_unix_protocol(manager: Any) -> asyncio.Protocol:
    """Protocol factory result for a unix listener."""
    return _AcceptingUnix(SyncProtocol(manager, incoming=True))
