"""The sending side of a connection: queued elements out as frames (PROTOCOL.md §4, §7.4).

:class:`SendingSide` is the half of :class:`~entanglement._sansio.connection.
SyncConnection` that writes frames (rules 1, 2 and 5 of that module's docstring): it pops
the dirty queue in order, encodes each element (through the runtime's per-class payload
encoder when one is set), marks requests RESPONSE_NEEDED and records them as awaited,
carries ``_resp_for`` and pending ``_no_resp_for`` numbers, and refuses a payload over
the limit without consuming a number.  It shares the connection's state (counters,
awaited table) with :mod:`.incoming`; neither half is used alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

from entanglement._exceptions import LocalProtocolError
from entanglement._sansio.context import ResponseContext
from entanglement._sansio.framing import (
    HEADER,
    MAX_PAYLOAD,
    RESPONSE_NEEDED,
    JsonCodec,
    payload_too_large,
)
from entanglement._sansio.queue import DirtyQueue, QueueElement

__all__ = ["Encode", "SendingSide", "build_payload"]

log = logging.getLogger("entanglement.protocol")

# What a connection's payload encoder returns for a class: a function encoding an
# object's whole to_sync dict, or None (see SyncConnection.payload_encoder).
Encode = Callable[[Any], "dict[str, Any] | None"]


class SendingSide:
    """Queued elements out as frames; mixed into SyncConnection (which sets the state)."""

    name: str
    out_count: int
    awaited: dict[int, list[ResponseContext]]
    pending_no_resp: list[int]
    queue: DirtyQueue
    closed: bool
    on_wakeup: Callable[[], None] | None
    payload_encoder: Callable[[type], Encode | None] | None
    _json: JsonCodec

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
