"""One connection's protocol state, without any I/O (PROTOCOL.md §2.3, §4, §7.4).

Theory of operation
-------------------
:class:`SyncConnection` is fed the bytes that arrive (:meth:`~SyncConnection.receive_data`)
and hands back events (:meth:`~SyncConnection.events`, one chunk at a time, or
:meth:`~SyncConnection.next_event`); it is asked for the bytes to write
(:meth:`~SyncConnection.data_to_send`).  The asyncio driver
(:mod:`entanglement.protocol`) only moves bytes.

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

import logging
from collections.abc import Callable, Iterator
from typing import Any, Final, NamedTuple

from entanglement._exceptions import (
    BadPayloadError,
    LocalProtocolError,
)
from entanglement._sansio.context import ResponseContext
from entanglement._sansio.framing import (
    HEADER,
    MAX_PAYLOAD,
    RESPONSE_NEEDED,
    FrameBuffer,
    JsonCodec,
    payload_too_large,
)
from entanglement._sansio.peertext import peer_repr
from entanglement._sansio.queue import DirtyQueue, QueueElement

__all__ = [
    "NEED_DATA",
    "InvalidMessage",
    "MessageReceived",
    "SyncConnection",
]

log = logging.getLogger("entanglement.protocol")

Encode = Callable[[Any], "dict[str, Any] | None"]


class _NeedData:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = _NeedData()


class MessageReceived(NamedTuple):
    """A decoded message ready for the receive pipeline (§9 step 4).

    ``message`` no longer holds ``_resp_for``/``_no_resp_for``; ``context`` is a new
    context (RESPONSE_NEEDED), the recovered one (``is_response``) or None.  The caller
    owns one hold on ``context`` and must release it when the pipeline is done.
    Events are NamedTuples (immutable, and cheap to build once per frame).
    """

    number: int
    flags: int
    message: dict[str, Any]
    context: ResponseContext | None
    is_response: bool


class InvalidMessage(NamedTuple):
    """A frame that cannot be processed; the sender gets ``SyncBadEncodingError``.

    ``context`` (held once, like in :class:`MessageReceived`) lets the error answer the
    request when the frame asked for a response.
    """

    number: int
    flags: int
    reason: str
    message: dict[str, Any] | None
    context: ResponseContext | None


Event = MessageReceived | InvalidMessage


class SyncConnection:
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

    # -- receiving ---------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed bytes read from the stream."""
        self._frames.receive_data(data)

    def next_event(self) -> Event | _NeedData:
        """Return the next event, or NEED_DATA when no complete frame is buffered.

        Raises:
            RemoteProtocolError: a fatal framing error; close the connection.
        """
        while self.has_frame:
            for event in self.events(1):
                if isinstance(event, dict):  # a plain message (see events)
                    return MessageReceived(self.in_count - 1, 0, event, None, False)
                return event
        return NEED_DATA

    @property
    def has_frame(self) -> bool:
        """True when a complete frame is buffered (``events`` would yield)."""
        return self._frames.has_frame

    def events(self, limit: int | None = None) -> Iterator[Event | dict[str, Any]]:
        """Yield an event for every complete frame buffered now (at most ``limit``
        frames; the rest stay buffered), in order.

        A *plain message* (no flags, a JSON object with ``_sync_type`` and no
        ``_resp_for``/``_no_resp_for``: it asks for nothing and answers nothing) is
        yielded as its message dict, which is what its :class:`MessageReceived` would
        hold (``flags`` 0, no context, not a response, ``number`` = ``in_count - 1``
        while it is being handled): building the event tuple cost as much as the rest
        of this loop.  Frames are numbered as they are yielded, so stopping early (the
        connection closing) leaves no event half made; frames not yet yielded are
        dropped.  :meth:`next_event` is this with ``limit`` 1.

        Raises:
            RemoteProtocolError: a fatal framing error; close the connection.  Frames
                before the bad header are yielded first.
        """
        decode = self._json.decode
        debug = log.isEnabledFor(logging.DEBUG)  # once per chunk, not per frame
        for payload, flags in self._frames.take_frames(limit):
            number = self.in_count
            self.in_count = number + 1
            if debug:
                log.debug("%s: received #%d %r", self.name, number, payload[:200])
            try:
                msg = decode(payload)
            except BadPayloadError as exc:
                request = self._request(flags, number)
                yield InvalidMessage(number, flags, str(exc), None, request)
                continue
            if (
                not flags
                and "_sync_type" in msg
                and "_resp_for" not in msg
                and "_no_resp_for" not in msg
            ):
                yield msg
                continue
            event = self._event_for(number, flags, msg)
            if event is not None:
                yield event
        self._frames.raise_if_failed()

    def _event_for(self, number: int, flags: int, msg: dict[str, Any]) -> Event | None:
        try:
            no_resp = msg.pop("_no_resp_for", None)
            if no_resp is not None:
                no_resp = _numbers(no_resp, "_no_resp_for")
            resp_for = msg.pop("_resp_for", None)
            if resp_for is not None:
                resp_for = _numbers(resp_for, "_resp_for")
        except BadPayloadError as exc:
            return InvalidMessage(
                number, flags, str(exc), msg, self._request(flags, number)
            )
        if no_resp:
            for n in no_resp:
                self._release_awaited(n)
        if "_sync_type" not in msg:
            # Metadata-only (§4.4): nothing to process, but a request is still owed
            # an answer (§19.3), and nothing here will ever answer it.
            if flags & RESPONSE_NEEDED:
                self.add_no_response(number)
            return None
        if flags & RESPONSE_NEEDED:
            context = self._request(flags, number)
            if resp_for:
                reason = "a frame may not both set RESPONSE_NEEDED and carry _resp_for"
                return InvalidMessage(number, flags, reason, msg, context)
            return MessageReceived(number, flags, msg, context, False)
        if not resp_for:
            return MessageReceived(number, flags, msg, None, False)
        recovered = self._recover(resp_for)
        return MessageReceived(number, flags, msg, recovered, recovered is not None)

    def _request(self, flags: int, number: int) -> ResponseContext | None:
        if flags & RESPONSE_NEEDED:
            return ResponseContext(requester=(self, number))
        return None

    def _recover(self, numbers: list[int]) -> ResponseContext | None:
        contexts: list[ResponseContext] = []
        for n in numbers:
            entry = self.awaited.pop(n, None)
            if entry is None:
                log.debug("%s: ignoring _resp_for %d, not awaited", self.name, n)
                continue
            contexts.extend(entry)
        if not contexts:
            return None
        # The awaited entry's hold on the first context becomes the pipeline's hold.
        merged = contexts[0]
        for other in contexts[1:]:
            if other is not merged:
                merged.merge(other)
            other.release()
        merged.responded = True
        return merged

    def _release_awaited(self, number: int) -> None:
        for context in self.awaited.pop(number, ()):
            context.release()

    # -- sending -----------------------------------------------------------------

    def add_no_response(self, number: int) -> None:
        """Owe the peer a ``_no_resp_for`` for its request ``number``."""
        if self.closed:
            return
        self.pending_no_resp.append(number)
        self._wake()

    @property
    def has_output(self) -> bool:
        """True when :meth:`data_to_send` would produce something."""
        return bool(len(self.queue) or self.pending_no_resp)

    def data_to_send(self, limit: int) -> bytes:
        """Build frames until about ``limit`` bytes are ready or nothing is left.

        Returns the frames back to back, ready to write.  Elements that cannot be
        encoded are logged and skipped (rule 1).
        """
        out = bytearray()
        pop = self.queue.popper()
        debug = log.isEnabledFor(logging.DEBUG)  # once per batch, not per frame
        encoders: dict[type, Encode | None] = {}
        while len(out) < limit:
            element = pop()
            if element is None:
                break
            self._add_frame(out, element, debug, encoders)
        if len(out) < limit and self.pending_no_resp and not len(self.queue):
            out += self._metadata_frame()
        return bytes(out)

    def frames_to_send(self, limit: int) -> list[bytes]:
        """:meth:`data_to_send`, cut into its frames (for tests and tools)."""
        data = self.data_to_send(limit)
        frames, pos = [], 0
        while pos < len(data):
            end = pos + HEADER.size + HEADER.unpack_from(data, pos)[0]
            frames.append(data[pos:end])
            pos = end
        return frames

    def _add_frame(
        self,
        out: bytearray,
        element: QueueElement,
        debug: bool,
        encoders: dict[type, Encode | None],
    ) -> None:
        """Write the element's frame into ``out`` (rules 1, 2 and 5); ``encoders``
        holds the batch's payload encoders per class (see ``payload_encoder``)."""
        contexts = element.contexts
        resp_for: list[int] = []
        if contexts:
            for context in contexts:
                resp_for.extend(context.take_requesters(self))
        try:
            payload, flags, needing = self._encode(element, resp_for, encoders)
        except (LocalProtocolError, ValueError, TypeError, AttributeError) as exc:
            log.error("%s: not sending %r: %s", self.name, element.obj, exc)
            self.pending_no_resp.extend(resp_for)
            element.release_contexts()
            return
        if needing:
            for context in needing:
                context.hold()
            self.awaited[self.out_count] = needing
        if contexts:
            element.release_contexts()
        if debug:
            log.debug("%s: sent #%d %r", self.name, self.out_count, payload[:200])
        out += _pack_header(len(payload), flags)
        out += payload
        self.out_count += 1

    def _encode(
        self,
        element: QueueElement,
        resp_for: list[int],
        encoders: dict[type, Encode | None],
    ) -> tuple[bytes, int, list[ResponseContext] | None]:
        """The element's payload, flags and the contexts that await its answer."""
        msg = None
        if element.attributes is None:
            obj = element.obj
            kind = type(obj)
            try:
                encode = encoders[kind]
            except KeyError:
                find = self.payload_encoder
                encode = encoders[kind] = None if find is None else find(kind)
            if encode is not None:
                try:
                    msg = encode(obj)
                except Exception:
                    msg = None  # to_sync's general loop reports it
        if msg is None:  # (an element naming attributes: no overlay otherwise)
            msg = build_payload(element)
        _add_type_and_operation(msg, element)
        needing = None
        flags = 0
        if resp_for:
            msg["_resp_for"] = resp_for
        elif element.contexts:
            needing = [c for c in element.contexts if c.needs_response()]
            if needing:
                flags = RESPONSE_NEEDED
        pending = self.pending_no_resp
        if pending:
            msg["_no_resp_for"] = pending
        payload = self._json.encode(msg)
        if len(payload) > MAX_PAYLOAD:
            raise payload_too_large(len(payload))
        if pending:
            self.pending_no_resp = []
        return payload, flags, needing

    def _metadata_frame(self) -> bytes:
        payload = self._json.encode({"_no_resp_for": self.pending_no_resp})
        self.pending_no_resp = []
        frame = HEADER.pack(len(payload), 0) + payload
        self._count_sent(frame)
        return frame

    def _count_sent(self, frame: bytes) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s: sent #%d %r", self.name, self.out_count, frame[8:200])
        self.out_count += 1

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

    def _wake(self) -> None:
        if self.on_wakeup is not None:
            self.on_wakeup()


def _add_type_and_operation(msg: dict[str, Any], element: QueueElement) -> None:
    msg["_sync_type"] = element.obj.sync_type
    operation = element.operation
    name = getattr(operation, "name", None) or str(operation)
    if name != "sync":
        msg["_sync_operation"] = name


_pack_header: Final = HEADER.pack


def build_payload(element: QueueElement) -> dict[str, Any]:
    """Return the attribute part of an element's message (``to_sync`` + overlay)."""
    msg = dict(element.obj.to_sync(attributes=element.attributes))
    if element.overlay:
        for key, value in element.overlay.items():
            msg.setdefault(key, value)
    return msg


def _numbers(value: Any, key: str) -> list[int]:
    if not isinstance(value, list):
        raise BadPayloadError(f"{key} must be a JSON array, got {peer_repr(value)}")
    try:
        return [int(v) for v in value]
    except (TypeError, ValueError, OverflowError) as exc:
        # OverflowError: Infinity and -Infinity (and 1e400) decode as float infinity.
        raise BadPayloadError(f"{key} holds a non-integer: {peer_repr(value)}") from exc
