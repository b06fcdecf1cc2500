"""The asyncio driver of one connection (PROTOCOL.md §5.6, §7.4-§7.6).

Theory of operation
-------------------
All protocol state lives in the sans-IO :class:`~entanglement._sansio.SyncConnection`;
this module only moves bytes between it and an asyncio transport.

* The transport talks to a :class:`BandwidthProtocol`: the ``asyncio.Protocol`` that
  meters writes (§7.6) and forwards everything to the :class:`SyncProtocol`, which is
  what the rest of the runtime (and destinations' ``connected()`` hooks) see as
  ``protocol``; the meter is the ``bwprotocol``.
* Receiving: ``data_received`` feeds the connection and runs the manager's receive
  pipeline for each event synchronously, in order.  A fatal framing error closes the
  connection with a log line naming the peer.  Work is bounded per loop turn (issue
  10 item 15): at most :data:`TURN_FRAMES` frames, the rest at the next turns, with
  reading paused until the backlog is gone, so that one peer's flood cannot starve
  the other connections (every connection gets its turn in between) nor fill our
  memory (the flood waits in the peer's socket).
* Sending has no task: enqueuing wakes the connection, which schedules one
  ``call_soon`` flush.  A flush builds every frame that is ready, joins them into writes
  of about :data:`WRITE_CHUNK` bytes, and stops when the bandwidth budget or the
  transport's back-pressure pauses it (``resume`` schedules the next flush) or after
  :data:`TURN_BUDGET` bytes, to let the event loop read.  Elements wait in the dirty
  queue, where they keep coalescing, until the writer is ready for them.  A burst of
  more than :data:`EAGER_FRAMES` waiting elements with no yield to the loop (a batch
  sent in one go) is written as it grows instead, so that the peer starts working
  while we still queue; an object updated over and over stays one element and keeps
  coalescing.
* ``sync_drain()`` completes when everything queued before it has been written, and
  fails with :class:`~entanglement._exceptions.WriteError` if the connection is lost
  first (quirk 17: the original left it pending forever).
* Nothing outlives the connection: the flush handle and the limiter's timer are
  cancelled in ``connection_lost``, which also drops the references between the
  transport, the meter and the SyncProtocol, so that a closed connection is freed by
  reference counting alone (issue 10 item 14; ``transport`` and ``bwprotocol`` are
  None once it has closed).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final, Protocol

from entanglement._bandwidth import BandwidthProtocol
from entanglement._exceptions import RemoteProtocolError, WriteError
from entanglement._model import payload_encoder
from entanglement._sansio import SyncConnection

if TYPE_CHECKING:
    from entanglement._hashes import DestHash

__all__ = ["BandwidthProtocol", "ConnectionOwner", "SyncProtocol"]

log = logging.getLogger("entanglement.protocol")

WRITE_CHUNK: Final = 256 * 1024
TURN_BUDGET: Final = 1024 * 1024
# Frames of one connection handled per event loop turn (fairness, issue 10 item 15).
TURN_FRAMES: Final = 500
# Queued elements past which a wake-up writes at once instead of at the loop's next
# turn (see SyncProtocol._wakeup): about one WRITE_CHUNK of small objects.
EAGER_FRAMES: Final = 1024


class ConnectionOwner(Protocol):
    """What a :class:`SyncProtocol` needs from its manager: the loop and three
    callbacks (a SyncManager is one)."""

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the connection runs on."""
        ...

    def _connection_made(self, protocol: SyncProtocol) -> None:
        """The transport is up (the peer is not identified yet)."""
        ...

    def _receive_events(self, protocol: SyncProtocol, events: Iterator[Any]) -> None:
        """Run the receive pipeline for one chunk's events, in order."""
        ...

    def _connection_lost(
        self, protocol: SyncProtocol, exc: BaseException | None
    ) -> None:
        """The connection is gone (``exc`` None: a regular end or a local close)."""
        ...


class SyncProtocol:
    """One connection to a peer: receive pipeline feed, send path, drain.

    Args:
        manager: the owning manager (see :class:`ConnectionOwner`).
        incoming: True for accepted connections.
        dest: the destination, when already known.
        **kwargs: ``dest_hash`` and ``der_cert`` when already known.
    """

    def __init__(
        self,
        manager: ConnectionOwner,
        incoming: bool = False,
        dest: Any = None,
        **kwargs: Any,
    ) -> None:
        self.manager = manager
        self.loop: asyncio.AbstractEventLoop = manager.loop
        self.incoming = incoming
        self.dest_hash: DestHash | None = kwargs.pop("dest_hash", None)
        self.der_cert: bytes | None = kwargs.pop("der_cert", None)
        self.peer_address: Any = kwargs.pop("peer_address", None)
        self.conn = SyncConnection(dest=dest)
        self.conn.payload_encoder = payload_encoder
        # The destination (None until the peer is identified, see bind): a plain
        # attribute, read for every object sent and received.
        self.dest: Any = dest
        self.conn.name = self.peer_name
        self.transport: asyncio.BaseTransport | None = None
        self.bwprotocol: BandwidthProtocol | None = None
        self.closed = False
        # Bytes are buffered, not processed, until the peer's identity is confirmed.
        self._reading = False
        # The next turn's share of buffered frames (see _process), and whether
        # reading is paused until it has run.
        self._backlog: asyncio.Handle | None = None
        self._paused_for_backlog = False
        self._flush_handle: asyncio.Handle | None = None
        self._drain: asyncio.Future[None] | None = None
        self._lost: asyncio.Future[None] = self.loop.create_future()

    def __repr__(self) -> str:
        return f"<SyncProtocol {self.peer_name}>"

    def bind(self, dest: Any) -> None:
        """Bind the connection to its destination, once the peer is identified."""
        self.dest = dest
        self.conn.dest = dest
        self.conn.name = self.peer_name

    @property
    def frames_received(self) -> int:
        """How many frames were received (the in counter, §2.3)."""
        return self.conn.in_count

    def enqueue(
        self,
        obj: Any,
        operation: Any,
        attributes: frozenset[str] | None,
        context: Any,
        priority: int,
    ) -> None:
        """Queue ``obj`` for this connection, where it coalesces (§7.3).

        Raises:
            SyncNotConnected: the connection is closed.
        """
        if self.closed:
            from entanglement._wire_errors import SyncNotConnected

            raise SyncNotConnected(dest=self.dest)
        self.conn.enqueue(obj, operation, attributes, context, priority)

    @property
    def peer_name(self) -> str:
        """How log lines name the peer: destination name, hash text, address."""
        parts = []
        if self.dest is not None:
            parts.append(repr(getattr(self.dest, "name", self.dest)))
        if self.dest_hash is not None:
            parts.append(str(self.dest_hash))
        if self.peer_address:
            parts.append(f"at {_format_address(self.peer_address)}")
        return " ".join(parts) or "<unidentified peer>"

    # -- transport side ----------------------------------------------------------

    def connection_made(
        self, transport: asyncio.BaseTransport, bwprotocol: BandwidthProtocol
    ) -> None:
        """Called when a connection is made (by :class:`BandwidthProtocol`)."""
        self.transport = transport
        self.bwprotocol = bwprotocol
        if self.peer_address is None:
            self.peer_address = transport.get_extra_info("peername")
        self.conn.name = self.peer_name
        self.conn.on_wakeup = self._wakeup
        self.manager._connection_made(self)
        if not self._reading:
            _set_reading(transport, False)
        if self.conn.has_output:
            self._schedule_flush()

    def start_reading(self) -> None:
        """Start processing frames (once the peer is identified)."""
        if self._reading or self.closed:
            return
        self._reading = True
        if self.transport is not None:
            _set_reading(self.transport, True)
        self._process()

    def watch_for_close(self) -> None:
        """Read (and buffer, unprocessed) so that the peer closing is noticed."""
        if self.transport is not None and not self.closed:
            _set_reading(self.transport, True)

    def data_received(self, data: bytes) -> None:
        """Feed received bytes and run the receive pipeline for each complete frame
        (at most :data:`TURN_FRAMES` now, the rest at the next loop turns)."""
        self.conn.receive_data(data)
        if self._reading and self._backlog is None:
            self._process()

    def _process(self) -> None:
        self._backlog = None
        if self.closed:
            return
        conn = self.conn
        try:
            # The manager stops taking events as soon as this connection closes.
            self.manager._receive_events(self, conn.events(TURN_FRAMES))
        except RemoteProtocolError as exc:
            log.error("%s: closing the connection: %s", self.peer_name, exc)
            # The poisoned frame buffer keeps the error: without its traceback (whose
            # frames hold this protocol) the connection is freed by reference
            # counting once closed (issue 10 item 14).
            exc.__traceback__ = None
            self.abort()
            return
        if self.closed or self.transport is None:
            return
        if conn.has_frame:
            # Fairness between connections (issue 10 item 15): the rest waits for
            # the next loop turn, and reading pauses meanwhile so that a flood
            # stays in the peer's socket, not in our memory.
            if not self._paused_for_backlog:
                self._paused_for_backlog = True
                _set_reading(self.transport, False)
            self._backlog = self.loop.call_soon(self._process)
        elif self._paused_for_backlog:
            self._paused_for_backlog = False
            _set_reading(self.transport, True)

    def eof_received(self) -> bool:
        """The peer closed its side: close ours too."""
        log.debug("%s: end of stream", self.peer_name)
        return False

    def connection_lost(self, exc: BaseException | None) -> None:
        """Called when the connection is lost or closed.

        Args:
            exc: the error, or None for a regular EOF or a local close.
        """
        if self.closed and self._lost.done():
            return
        self.closed = True
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._backlog is not None:
            self._backlog.cancel()
            self._backlog = None
        self.conn.on_wakeup = None
        self.conn.connection_lost()
        if self._drain is not None and not self._drain.done():
            error = WriteError(f"{self.peer_name}: connection lost before draining")
            self._drain.set_exception(error)
        self._drain = None
        if not self._lost.done():
            self._lost.set_result(None)
        # Break the cycles through the meter and the transport (meter -> this ->
        # meter, transport -> meter -> this -> transport): a closed connection is
        # then freed by reference counting, not by the cyclic collector (item 14).
        self.bwprotocol = None
        self.transport = None
        self.manager._connection_lost(self, exc)

    # -- sending -----------------------------------------------------------------

    def _wakeup(self) -> None:
        # Called for every element queued.  A burst of synchronize() calls with no
        # yield (an application sending a batch) would otherwise queue everything
        # before the first byte leaves: the peer idles, then works while we idle.
        # Past EAGER_FRAMES waiting elements the flush runs at once, so both ends work
        # in parallel; fewer than that keep waiting for the loop (and coalescing).
        if self._flush_handle is None:
            self._schedule_flush()
        elif len(self.conn.queue) >= EAGER_FRAMES:
            bw = self.bwprotocol
            if bw is not None and not bw.paused:
                self.flush()

    def _schedule_flush(self) -> None:
        if self._flush_handle is None and not self.closed and self.bwprotocol:
            self._flush_handle = self.loop.call_soon(self._flush)

    def flush(self) -> None:
        """Write what is queued now instead of at the event loop's next turn.

        Stops at the usual limits (the bandwidth limiter, one turn's write budget); the
        rest follows on the loop as always.
        """
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self._flush()

    def resume(self) -> None:
        """Called by the limiter when writing may continue."""
        if self.conn.has_output or self._drain is not None:
            self._schedule_flush()

    def _flush(self) -> None:
        self._flush_handle = None
        bw = self.bwprotocol
        if self.closed or bw is None or bw.closing:
            return
        conn = self.conn
        written = 0
        while not bw.paused and written < TURN_BUDGET and conn.has_output:
            data = conn.data_to_send(WRITE_CHUNK)
            if data:
                bw.write(data)
                written += len(data)
        if self._drain is not None and not conn.queue.draining:
            if not self._drain.done():
                self._drain.set_result(None)
            self._drain = None
        if conn.has_output and not bw.paused:
            self._schedule_flush()  # yield to the loop, then go on

    def sync_drain(self) -> asyncio.Future[None]:
        """A future that completes once everything queued before this call is written.

        As in the original, the future is fixed at call time, so callers may collect
        several (``asyncio.wait([p.sync_drain() for p in manager.connections])``) or
        poll ``.done()``; awaiting it directly works too.  Each call gets its own
        future over the shared one, so cancelling one waiter leaves the others.

        Returns:
            The future; it fails with WriteError if the connection is lost first (or
            was already closed).
        """
        if self.closed:
            failed: asyncio.Future[None] = self.loop.create_future()
            failed.set_exception(WriteError(f"{self.peer_name}: connection is closed"))
            failed.add_done_callback(_retrieve)
            return failed
        if not self.conn.queue.begin_drain():
            if self._drain is None:
                done: asyncio.Future[None] = self.loop.create_future()
                done.set_result(None)
                return done
        elif self._drain is None:
            self._drain = self.loop.create_future()
            self._drain.add_done_callback(_retrieve)
            self._schedule_flush()
        waiter = asyncio.shield(self._drain)
        waiter.add_done_callback(_retrieve)
        return waiter

    # -- closing -----------------------------------------------------------------

    def close(self) -> None:
        """Close the connection gracefully (buffered data is flushed first)."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
        elif self.transport is None:
            self._lose_without_transport()

    def abort(self) -> None:
        """Close the connection at once, dropping buffered data."""
        self.closed = True
        transport = self.transport
        if transport is not None:
            abort = getattr(transport, "abort", transport.close)
            abort()
        else:
            self._lose_without_transport()

    def _lose_without_transport(self) -> None:
        if not self._lost.done():
            self.connection_lost(None)

    async def wait_closed(self) -> None:
        """Wait until ``connection_lost`` has run."""
        await asyncio.shield(self._lost)


def _set_reading(transport: asyncio.BaseTransport, on: bool) -> None:
    if isinstance(transport, asyncio.ReadTransport) and not transport.is_closing():
        if on and not transport.is_reading():
            transport.resume_reading()
        elif not on and transport.is_reading():
            transport.pause_reading()


def _retrieve(fut: asyncio.Future[None]) -> None:
    # Nobody may be waiting when the connection drops: mark the error as seen.
    if not fut.cancelled():
        fut.exception()


def _format_address(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address) or "<unix socket>"
