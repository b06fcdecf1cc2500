"""An asyncio transport over one WebSocket connection (PROTOCOL.md §2.2, §16.1).

Theory of operation
-------------------
The rest of the runtime speaks the stream framing of §2.1 to an asyncio transport: the
sans-IO :class:`~entanglement._sansio.SyncConnection` builds frames, the
:class:`~entanglement.protocol.SyncProtocol` driver writes them through its
:class:`~entanglement.protocol.BandwidthProtocol`.  :class:`WebSocketTransport` is that
transport for a WebSocket (a ``websockets`` asyncio connection), so the protocol logic
is not forked: it translates between the two wire forms at the edge.

* Writing: ``write()`` receives whole frames (the driver always writes whole frames),
  cuts them at their 8-byte headers and turns each into one text message carrying the
  flags word inside the JSON as ``_flags`` (§2.2: the server adds ``_flags``, possibly 0,
  to every message).  The key is spliced into the JSON text (``{"_flags": N, ...``)
  rather than re-encoding the object.  A writer task sends the messages in order;
  above :data:`HIGH_WATER` buffered characters the protocol is paused
  (``pause_writing``), below :data:`LOW_WATER` it resumes, as a socket transport does.
* Reading: each text (or binary, taken as UTF-8) message becomes one frame whose flags
  are the message's ``_flags`` masked to RESPONSE_NEEDED, the only meaningful bit on a
  WebSocket (§2.2: no critical-flag check).  The JSON text itself is handed on
  unchanged: the receive pipeline removes ``_flags`` before validating, so only the
  messages that mention ``_flags`` at all are parsed here.  The messages that arrive
  during one turn of the event loop are handed over as one chunk (the receive pipeline
  works per chunk: its routes are worked out once per chunk, not once per message).
  ``pause_reading`` holds the reader between messages; a close is still noticed while
  paused.
* Closing: ``close()`` sends what is buffered, then closes the WebSocket; ``abort()``
  drops the buffer and the TCP connection.  :meth:`WebSocketTransport.start` calls
  ``connection_made``; :meth:`WebSocketTransport.run` (the reader,
  the writer and a close watcher in one task group) returns once the WebSocket has
  closed, after calling ``connection_lost`` exactly once.

Choices where the spec is silent or where we differ from the original:

* The 65536-byte payload limit of the stream transports is kept on WebSocket in both
  directions (the original applies none, §2.2): whatever we accept from a browser is
  flooded to TLS peers, which cannot carry more.  An oversized incoming message closes
  the connection with a log line naming the peer; the ``websockets`` layer refuses
  anything past the limit plus room for ``_flags`` with close code 1009.
* A ``_flags`` value that is not an integer counts as 0, with a warning naming the peer.
* Writes are metered by the destination's bandwidth budget like any other link (quirk
  51 fixed: the original did not meter WebSocket writes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from typing import Any, Final

from websockets.asyncio.connection import Connection
from websockets.exceptions import ConnectionClosed

from entanglement._sansio import MAX_PAYLOAD, RESPONSE_NEEDED, encode_frame
from entanglement._sansio.framing import HEADER

__all__ = ["HIGH_WATER", "LOW_WATER", "MAX_MESSAGE", "MAX_QUEUE", "WebSocketTransport"]

log = logging.getLogger("entanglement.protocol")

HIGH_WATER: Final = 1024 * 1024
LOW_WATER: Final = 256 * 1024
# Largest WebSocket message taken in: a full payload plus a generous ``_flags`` key.
MAX_MESSAGE: Final = MAX_PAYLOAD + 64
# Messages the websockets layer buffers before it stops reading the socket: the batch
# one loop turn can hand over.
MAX_QUEUE: Final = 512
_FLAGS_KEY: Final = b'"_flags"'


class WebSocketTransport(asyncio.Transport):
    """The asyncio transport of one WebSocket connection (see the module docstring).

    Args:
        websocket: an open ``websockets`` asyncio connection (server or client side).
        protocol: the asyncio protocol to drive (a ``BandwidthProtocol``).
        extra: more ``get_extra_info`` values (``peername`` comes from the socket).
    """

    def __init__(
        self,
        websocket: Connection,
        protocol: asyncio.Protocol,
        extra: dict[str, Any] | None = None,
    ) -> None:
        info = {"peername": websocket.remote_address, "websocket": websocket}
        super().__init__({**info, **(extra or {})})
        self._ws = websocket
        self._protocol = protocol
        self._out: deque[str] = deque()
        self._buffered = 0
        self._protocol_paused = False
        self._wake = asyncio.Event()
        self._may_read = asyncio.Event()
        self._may_read.set()
        self._closing = False
        self._ws_closed = False
        self._lost = False
        self._received: list[bytes] = []
        self._deliver_handle: asyncio.Handle | None = None

    @property
    def peer_text(self) -> str:
        """The remote address, for log lines."""
        address = self._ws.remote_address
        if isinstance(address, tuple) and len(address) >= 2:
            return f"websocket {address[0]}:{address[1]}"
        return "websocket peer"

    # -- asyncio.Transport ------------------------------------------------------------

    def is_closing(self) -> bool:
        """True once close() or abort() was called or the WebSocket closed."""
        return self._closing or self._ws_closed

    def close(self) -> None:
        """Send what is buffered, then close the WebSocket."""
        self._closing = True
        self._wake.set()

    def abort(self) -> None:
        """Drop what is buffered and the connection, at once."""
        self._closing = True
        self._out.clear()
        self._buffered = 0
        self._ws.transport.abort()
        self._wake.set()
        self._may_read.set()

    def is_reading(self) -> bool:
        """True unless reading is paused."""
        return self._may_read.is_set()

    def pause_reading(self) -> None:
        """Stop handing messages to the protocol (they wait in the socket)."""
        self._may_read.clear()

    def resume_reading(self) -> None:
        """Hand messages to the protocol again."""
        self._may_read.set()

    def get_write_buffer_size(self) -> int:
        """Characters queued for the writer task."""
        return self._buffered

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Queue whole frames (§2.1 form) as WebSocket messages (§2.2 form)."""
        if self.is_closing():
            return
        for text in frames_to_messages(bytes(data)):
            self._out.append(text)
            self._buffered += len(text)
        self._wake.set()
        if not self._protocol_paused and self._buffered > HIGH_WATER:
            self._protocol_paused = True
            self._protocol.pause_writing()

    def can_write_eof(self) -> bool:
        """WebSocket has no half-close."""
        return False

    # -- tasks -------------------------------------------------------------------

    def start(self) -> None:
        """Hand the transport to the protocol (``connection_made``); then :meth:`run`."""
        self._protocol.connection_made(self)

    async def run(self) -> None:
        """Drive the connection until the WebSocket closes (then ``connection_lost``)."""
        exc: BaseException | None = None
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._read_loop())
                group.create_task(self._write_loop())
                group.create_task(self._watch_close())
        except* ConnectionClosed as closed:
            exc = closed.exceptions[0]
        finally:
            self._ws_closed = True
            if self._ws.state.name != "CLOSED":
                self._ws.transport.abort()
            if self._deliver_handle is not None:  # what arrived before the close
                self._deliver_handle.cancel()
                self._deliver()
            self._connection_lost(exc)

    async def _watch_close(self) -> None:
        await self._ws.wait_closed()
        self._ws_closed = True
        self._wake.set()
        self._may_read.set()

    async def _read_loop(self) -> None:
        ws = self._ws
        while not self._ws_closed:
            try:
                message = await ws.recv()
            except ConnectionClosed:
                return
            await self._may_read.wait()
            if self._ws_closed or self._lost:
                return
            try:
                frame = message_to_frame(message, self.peer_text)
            except ValueError as exc:
                log.error("%s: closing the connection: %s", self.peer_text, exc)
                self.abort()
                return
            self._received.append(frame)
            if self._deliver_handle is None:
                loop = asyncio.get_running_loop()
                self._deliver_handle = loop.call_soon(self._deliver)

    def _deliver(self) -> None:
        # Every message that arrived during this loop turn, as one chunk: the receive
        # pipeline works per chunk (routes worked out once, §9 fast path).
        self._deliver_handle = None
        data, self._received = b"".join(self._received), []
        if self._lost or not data:
            return
        try:
            self._protocol.data_received(data)
        except Exception:  # the pipeline reports its own errors: this is a bug
            log.exception("%s: receiving failed; closing", self.peer_text)
            self.abort()

    async def _write_loop(self) -> None:
        ws = self._ws
        while True:
            while self._out and not self._ws_closed:
                text = self._out.popleft()
                self._buffered -= len(text)
                if self._protocol_paused and self._buffered < LOW_WATER:
                    self._protocol_paused = False
                    self._protocol.resume_writing()
                try:
                    await ws.send(text)
                except ConnectionClosed:
                    return
            if self._ws_closed:
                return
            if self._closing:
                with contextlib.suppress(ConnectionClosed):
                    await ws.close()
                return
            self._wake.clear()
            await self._wake.wait()

    def _connection_lost(self, exc: BaseException | None) -> None:
        if self._lost:
            return
        self._lost = True
        if self._deliver_handle is not None:
            self._deliver_handle.cancel()
            self._deliver_handle = None
        self._received = []
        self._out.clear()
        self._protocol.connection_lost(exc if isinstance(exc, Exception) else None)


def frames_to_messages(data: bytes) -> list[str]:
    """Turn whole §2.1 frames into §2.2 text messages carrying ``_flags``.

    Raises:
        ValueError: ``data`` does not end on a frame boundary (a driver bug).
    """
    messages = []
    pos, end = 0, len(data)
    while pos < end:
        length, flags = HEADER.unpack_from(data, pos)
        start = pos + HEADER.size
        pos = start + length
        if pos > end:
            raise ValueError("partial frame written to a WebSocket transport")
        payload = data[start:pos].decode("utf-8")
        # Payloads are JSON objects as our encoder writes them: '{' comes first.
        rest = payload[1:].lstrip()
        sep = "" if rest.startswith("}") else ", "
        messages.append(f'{{"_flags": {flags}{sep}{rest}')
    return messages


def message_to_frame(message: str | bytes, peer: str = "websocket peer") -> bytes:
    """Turn one §2.2 message into a §2.1 frame (flags from ``_flags``).

    Raises:
        ValueError: the payload is over the 65536-byte limit.
    """
    payload = message.encode("utf-8") if isinstance(message, str) else message
    if len(payload) > MAX_MESSAGE:
        raise ValueError(
            f"message of {len(payload)} bytes exceeds the {MAX_PAYLOAD}-byte limit"
        )
    flags = 0
    if _FLAGS_KEY in payload:
        flags = _read_flags(payload, peer)
    if len(payload) > MAX_PAYLOAD:
        # Room was left for ``_flags``: the payload without it must still fit.
        payload = _without_flags(payload)
        if len(payload) > MAX_PAYLOAD:
            raise ValueError(
                f"message of {len(payload)} bytes exceeds the {MAX_PAYLOAD}-byte limit"
            )
    return encode_frame(payload, flags)


def _read_flags(payload: bytes, peer: str) -> int:
    try:
        msg = json.loads(payload)
    except (ValueError, RecursionError):
        return 0  # the pipeline decodes it again and answers with the reason
    if not isinstance(msg, dict) or "_flags" not in msg:
        return 0
    value = msg["_flags"]
    if type(value) is not int:
        log.warning("%s: _flags is not an integer: %.60r; taken as 0", peer, value)
        return 0
    return value & RESPONSE_NEEDED


def _without_flags(payload: bytes) -> bytes:
    try:
        msg = json.loads(payload)
    except (ValueError, RecursionError):
        return payload
    if isinstance(msg, dict):
        msg.pop("_flags", None)
        return json.dumps(msg).encode("utf-8")
    return payload
