"""Stream framing of the entanglement wire protocol (PROTOCOL.md §2.1).

Theory of operation
-------------------
A stream carries frames back to back.  Each frame is an 8-byte header, two unsigned
32-bit big-endian words ``length`` and ``flags``, then ``length`` bytes of UTF-8 JSON
holding one JSON object.

Rules enforced here:

1. ``length`` is at most :data:`MAX_PAYLOAD` (65536, inclusive).  A larger announced
   length is fatal and is detected *from the header alone*, before a single byte of the
   body is buffered, so a hostile peer cannot make us hold more than one header's worth
   of excess data (:class:`~entanglement._exceptions.FrameTooLargeError`).
2. The low 16 bits of ``flags`` are critical.  Bit 0 is RESPONSE_NEEDED; any other
   critical bit set is fatal (:class:`~entanglement._exceptions.UnknownCriticalFlagsError`).
   The high 16 bits are informational and ignored.
3. Once a fatal error was raised the buffer stays poisoned: every later call raises the
   same error, the caller is expected to close the connection.

The JSON layer is separate from the byte layer: :func:`encode_message` produces exactly
what Python's ``json.dumps`` produces with its defaults (``", "``/``": "`` separators,
non-ASCII escaped), the style of the original implementation; :func:`decode_message`
accepts any valid UTF-8 JSON object.  Decoding problems are *not* fatal for the stream
(the frame boundaries are intact), so they are reported as
:class:`~entanglement._exceptions.BadPayloadError` to the caller, which decides.
"""

from __future__ import annotations

import json
import struct
from typing import Any, Final, NamedTuple

from entanglement._exceptions import (
    BadPayloadError,
    FrameTooLargeError,
    LocalProtocolError,
    ProtocolError,
    UnknownCriticalFlagsError,
)

__all__ = [
    "CRITICAL_MASK",
    "HEADER",
    "MAX_PAYLOAD",
    "RESPONSE_NEEDED",
    "Frame",
    "FrameBuffer",
    "decode_message",
    "encode_frame",
    "encode_message",
]

HEADER: Final = struct.Struct(">II")
MAX_PAYLOAD: Final = 65536
RESPONSE_NEEDED: Final = 0x00000001
CRITICAL_MASK: Final = 0x0000FFFF
_KNOWN_CRITICAL: Final = RESPONSE_NEEDED

# One shared encoder: json.dumps() builds a new JSONEncoder per call when given options,
# but with defaults it reuses a module-level one; using ours keeps the same output.
_ENCODER: Final = json.JSONEncoder()


class Frame(NamedTuple):
    """One complete frame: the raw payload bytes and the flags word.

    A NamedTuple rather than a frozen dataclass: it is built once per received frame,
    and tuples are several times cheaper to build; the buffer validated it already.
    """

    payload: bytes
    flags: int

    @property
    def response_needed(self) -> bool:
        """True when the sender asked for a response (flag bit 0)."""
        return bool(self.flags & RESPONSE_NEEDED)


class FrameBuffer:
    """Incremental decoder: feed bytes with :meth:`receive_data`, take frames out.

    Iterating the buffer yields every complete frame currently held.
    """

    __slots__ = ("_buf", "_error", "_pos")

    def __init__(self) -> None:
        self._buf = bytearray()
        # Parse position inside _buf; consumed bytes are dropped lazily in bulk so that
        # many small frames in one chunk cost one memmove, not one each.
        self._pos = 0
        self._error: ProtocolError | None = None

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Append received bytes."""
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    @property
    def buffered(self) -> int:
        """Number of bytes held that do not yet form a complete frame."""
        return len(self._buf) - self._pos

    def next_frame(self) -> Frame | None:
        """Return the next complete frame, or None if more data is needed.

        Raises:
            FrameTooLargeError: the next header announces more than MAX_PAYLOAD bytes.
            UnknownCriticalFlagsError: the next header sets an unknown critical flag.
        """
        if self._error is not None:
            raise self._error
        buf, pos = self._buf, self._pos
        if len(buf) - pos < HEADER.size:
            return None
        length, flags = HEADER.unpack_from(buf, pos)
        self._check_header(length, flags)
        end = pos + HEADER.size + length
        if len(buf) < end:
            return None
        payload = bytes(buf[pos + HEADER.size : end])
        self._pos = end
        return Frame(payload, flags)

    def __iter__(self) -> FrameBuffer:
        return self

    def __next__(self) -> Frame:
        frame = self.next_frame()
        if frame is None:
            raise StopIteration
        return frame

    def _check_header(self, length: int, flags: int) -> None:
        if length > MAX_PAYLOAD:
            self._error = FrameTooLargeError(
                f"frame header announces {length} payload bytes, limit is {MAX_PAYLOAD}"
            )
            raise self._error
        unknown = flags & CRITICAL_MASK & ~_KNOWN_CRITICAL
        if unknown:
            self._error = UnknownCriticalFlagsError(
                f"frame header sets unknown critical flag bits {unknown:#06x}"
                f" (flags {flags:#010x})"
            )
            raise self._error


def encode_frame(payload: bytes, flags: int = 0) -> bytes:
    """Return header + payload for one frame.

    Args:
        payload: the encoded JSON text.
        flags: the 32-bit flags word.

    Returns:
        The bytes to write.

    Raises:
        LocalProtocolError: if the payload exceeds MAX_PAYLOAD bytes.
    """
    length = len(payload)
    if length > MAX_PAYLOAD:
        raise LocalProtocolError(
            f"refusing to send a {length}-byte payload (limit {MAX_PAYLOAD} bytes)"
        )
    return HEADER.pack(length, flags) + payload


def encode_message(msg: dict[str, Any]) -> bytes:
    """Encode a message the way the original does (``json.dumps`` defaults)."""
    return _ENCODER.encode(msg).encode("ascii")


def decode_message(payload: bytes) -> dict[str, Any]:
    """Decode a payload into a message dict.

    Raises:
        BadPayloadError: the payload is not UTF-8 JSON or not a JSON object.
    """
    try:
        value = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise BadPayloadError(f"payload is not UTF-8: {exc}") from exc
    except ValueError as exc:  # json.JSONDecodeError and RecursionError-free errors
        raise BadPayloadError(f"payload is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise BadPayloadError("payload JSON is nested too deeply") from exc
    if not isinstance(value, dict):
        raise BadPayloadError(
            f"payload is a JSON {type(value).__name__}, not a JSON object"
        )
    return value
