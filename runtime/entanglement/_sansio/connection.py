"""One connection's protocol state, without any I/O (PROTOCOL.md §2.3, §4, §7.4).

Theory of operation
-------------------
:class:`SyncConnection` is fed the bytes that arrive (:meth:`~SyncConnection.receive_data`)
and hands back events (:meth:`~SyncConnection.events`, one chunk at a time, or
:meth:`~SyncConnection.next_event`); it is asked for the bytes to write
(:meth:`~SyncConnection.data_to_send`).  The asyncio driver
(:mod:`entanglement.protocol`) only moves bytes.

The connection is two halves over one state: :mod:`.incoming` (frames in, events out)
and :mod:`.outgoing` (queued elements out as frames); this module holds the state they
share (counters, awaited table, pending no-responses, the dirty queue) and its end.

Rules:

1. Counters.  Every frame sent consumes the out counter, every frame received the in
   counter, both from 0, including metadata-only frames and frames whose payload cannot
   be decoded.  A frame we refuse to send (payload over 65536 bytes, or ``to_sync``
   failing) consumes nothing: unlike the original (quirk 1) the number is not burnt, no
   awaited entry is recorded and pending ``_no_resp_for`` numbers stay pending.
2. Requests.  An outgoing element whose context still needs a response sets
   RESPONSE_NEEDED and its out-number goes into the awaited table pointing at the
   context(s).  ``_resp_for`` lists the in-numbers this connection is owed by the
   element's contexts.  A frame never carries both: when an element carries an answer
   and an unanswered relay at once, the answer wins and the relay's context is released
   (so its requesters get "no response" unless something else holds it).
3. Responses.  A received ``_resp_for`` recovers the awaited contexts (several are
   merged into one); numbers we are not awaiting are ignored (quirk 3).  A received
   ``_no_resp_for`` releases the awaited contexts.
4. Bad input.  Fatal framing errors (oversized length, unknown critical flag) raise a
   :class:`~entanglement._exceptions.RemoteProtocolError` from :meth:`next_event`; the
   driver closes the connection.  A payload that is not UTF-8 JSON or not an object, a
   frame with both RESPONSE_NEEDED and ``_resp_for`` and a malformed number list give an
   :class:`InvalidMessage` event instead: the frame still consumed its in-number, the
   manager answers with ``SyncBadEncodingError`` (carrying ``_resp_for`` when the frame
   asked for a response, which is only known when the flags were readable, i.e. always
   for framing-level input) and the connection stays up.  A number list holding
   ``Infinity`` or ``-Infinity`` (decoded as float infinity) is malformed like one
   holding ``NaN`` (issue 10 item 12).
5. Sending order.  Elements leave the dirty queue in priority order; when the queue is
   empty and ``_no_resp_for`` numbers are pending, one metadata-only frame carries them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from entanglement._sansio.context import ResponseContext
from entanglement._sansio.framing import FrameBuffer, JsonCodec
from entanglement._sansio.incoming import (
    NEED_DATA,
    Event,
    InvalidMessage,
    MessageReceived,
    ReceivingSide,
)
from entanglement._sansio.outgoing import Encode, SendingSide, build_payload
from entanglement._sansio.queue import DirtyQueue

__all__ = [
    "NEED_DATA",
    "Event",
    "InvalidMessage",
    "MessageReceived",
    "SyncConnection",
    "build_payload",
]


class SyncConnection(ReceivingSide, SendingSide):
    """Counters, awaited responses, pending no-responses and the dirty queue.

    Args:
        name: how log lines name the peer (destination name and hash text).
        dest: the destination this connection is bound to (opaque here).
    """

    def __init__(self, name: str = "<unbound peer>", dest: Any = None) -> None:
        self.name = name
        self.dest = dest
        self.out_count = 0
        self.in_count = 0
        self.awaited: dict[int, list[ResponseContext]] = {}
        self.pending_no_resp: list[int] = []
        self.queue = DirtyQueue(build_payload, on_add=self._wake)
        # enqueue(obj, operation, attributes, context, priority) queues ``obj`` for
        # this connection, where it coalesces (§7.3): the queue's own ``add``, which
        # wakes the driver, and raises LocalProtocolError once the connection is
        # closed.  One signature, one body, and no forwarding call per object.
        self.enqueue = self.queue.add
        self.closed = False
        # Called (synchronously) whenever there is something new to send.
        self.on_wakeup: Callable[[], None] | None = None
        # Set by the runtime: for a class, what ``obj.to_sync()`` (all attributes)
        # runs, returning a new dict that needs no copy (or None, or raising, when
        # to_sync must be asked), or None for a class whose to_sync is its own.  Looked
        # up once per class and batch of frames (data_to_send).
        self.payload_encoder: Callable[[type], Encode | None] | None = None
        self._frames = FrameBuffer()
        self._json = JsonCodec()

    def __repr__(self) -> str:
        return f"<SyncConnection {self.name} out={self.out_count} in={self.in_count}>"

    # -- lifecycle ---------------------------------------------------------------

    def connection_lost(self) -> None:
        """Drop queued elements and awaited entries; their contexts may settle."""
        if self.closed:
            return
        self.closed = True
        self.pending_no_resp = []
        for element in self.queue.close(f"{self.name}: connection is closed"):
            element.release_contexts()
        awaited, self.awaited = self.awaited, {}
        for contexts in awaited.values():
            for context in contexts:
                context.release()
