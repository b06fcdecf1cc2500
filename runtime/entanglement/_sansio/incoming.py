"""The receiving side of a connection: frames in, events out (PROTOCOL.md §2.3, §4).

:class:`ReceivingSide` is the half of :class:`~entanglement._sansio.connection.
SyncConnection` that turns buffered frames into events (rules 1, 3 and 4 of that module's
docstring): it counts every frame in, recovers the contexts that ``_resp_for`` answers,
releases those ``_no_resp_for`` gives up, and reports bad input as
:class:`InvalidMessage` events.  It shares the connection's state (counters, awaited
table) with :mod:`.outgoing`; neither half is used alone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from entanglement._exceptions import BadPayloadError
from entanglement._sansio.context import ResponseContext
from entanglement._sansio.framing import RESPONSE_NEEDED, FrameBuffer, JsonCodec
from entanglement._sansio.peertext import peer_repr

__all__ = [
    "NEED_DATA",
    "Event",
    "InvalidMessage",
    "MessageReceived",
    "ReceivingSide",
]

log = logging.getLogger("entanglement.protocol")


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


class ReceivingSide:
    """Frames in, events out; mixed into SyncConnection (which sets the state)."""

    name: str
    dest: Any
    in_count: int
    awaited: dict[int, list[ResponseContext]]
    _frames: FrameBuffer
    _json: JsonCodec

    if TYPE_CHECKING:  # provided by the sending side

        def add_no_response(self, number: int) -> None: ...

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


def _numbers(value: Any, key: str) -> list[int]:
    if not isinstance(value, list):
        raise BadPayloadError(f"{key} must be a JSON array, got {peer_repr(value)}")
    try:
        return [int(v) for v in value]
    except (TypeError, ValueError, OverflowError) as exc:
        # OverflowError: Infinity and -Infinity (and 1e400) decode as float infinity.
        raise BadPayloadError(f"{key} holds a non-integer: {peer_repr(value)}") from exc
