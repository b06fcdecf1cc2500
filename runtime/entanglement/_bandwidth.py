"""The asyncio protocol under a connection: the bandwidth limiter of §7.6.

:class:`BandwidthProtocol` is what asyncio (or the WebSocket transport) drives: it
forwards received bytes, end of stream and loss to its
:class:`~entanglement.protocol.SyncProtocol`, and meters what that one writes.  It is
re-exported by :mod:`entanglement.protocol`, its public path.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # protocol.py imports this module
    from entanglement.protocol import SyncProtocol

__all__ = ["QUANTUM", "BandwidthProtocol"]

# The limiter's accounting period (seconds): a budget of bw_per_sec * QUANTUM bytes.
QUANTUM: Final = 0.1


class BandwidthProtocol(asyncio.Protocol):
    """The asyncio protocol of a connection: meters writes and forwards the rest.

    Budget (§7.6): ``bw_per_sec * 0.1`` bytes per 0.1 s quantum.  Every write adds its
    size after refunding the quanta elapsed since the current one started; when the
    budget is exceeded the writer pauses until a timer refunds enough.  Transport
    back-pressure (``pause_writing``) pauses it as well; it resumes when neither holds.

    Args:
        protocol: the SyncProtocol to drive.
        bw_per_sec: bytes per second (10,000,000 until ``connected()`` sets it).
    """

    def __init__(self, protocol: SyncProtocol, bw_per_sec: float = 10_000_000) -> None:
        self.protocol = protocol
        self.loop = protocol.loop
        self.bw_per_sec = bw_per_sec
        self.transport: asyncio.BaseTransport | None = None
        self._used = 0.0
        self._quantum_start = self.loop.time()
        self._limited = False
        self._transport_paused = False
        self._timer: asyncio.TimerHandle | None = None

    @property
    def closing(self) -> bool:
        """True once the transport is closing (nothing more may be written)."""
        return self.transport is None or self.transport.is_closing()

    @property
    def paused(self) -> bool:
        """True while the limiter or the transport holds the writer."""
        return self._limited or self._transport_paused

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Hand the transport to the SyncProtocol."""
        self.transport = transport
        self.protocol.connection_made(transport, self)

    def data_received(self, data: bytes) -> None:
        """Forward received bytes."""
        self.protocol.data_received(data)

    def eof_received(self) -> bool | None:
        """Forward end of stream."""
        return self.protocol.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the timer and tell the SyncProtocol."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.transport = None  # (the transport holds us: see SyncProtocol)
        self.protocol.connection_lost(exc)

    def pause_writing(self) -> None:
        """Transport back-pressure on."""
        self._transport_paused = True

    def resume_writing(self) -> None:
        """Transport back-pressure off."""
        self._transport_paused = False
        if not self.paused:
            self.protocol.resume()

    def write(self, data: bytes) -> None:
        """Write ``data`` whole and account for it."""
        transport = self.transport
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(data)
        self._refund()
        self._used += len(data)
        if self._used > self.bw_per_sec * QUANTUM:
            self._limited = True
            self._arm_timer()

    def _refund(self) -> None:
        now = self.loop.time()
        quanta = round((now - self._quantum_start) / QUANTUM)
        if quanta >= 1:
            self._quantum_start = now
            self._used = max(self._used - quanta * self.bw_per_sec * QUANTUM, 0.0)

    def _arm_timer(self) -> None:
        if self._timer is None:
            when = self._quantum_start + QUANTUM
            self._timer = self.loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._refund()
        if self._used < self.bw_per_sec * QUANTUM:
            self._limited = False
            if not self.paused:
                self.protocol.resume()
        else:
            self._timer = self.loop.call_later(QUANTUM, self._on_timer)
