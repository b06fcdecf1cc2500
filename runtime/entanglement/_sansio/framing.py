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
import json.encoder
import json.scanner
import struct
from typing import Any, Final

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
    "FrameBuffer",
    "JsonCodec",
    "decode_message",
    "encode_frame",
    "encode_message",
    "payload_too_large",
]

HEADER: Final = struct.Struct(">II")
MAX_PAYLOAD: Final = 65536
RESPONSE_NEEDED: Final = 0x00000001
CRITICAL_MASK: Final = 0x0000FFFF
_KNOWN_CRITICAL: Final = RESPONSE_NEEDED
_UNKNOWN_CRITICAL: Final = CRITICAL_MASK & ~_KNOWN_CRITICAL
_HEADER_SIZE: Final = HEADER.size
_unpack_header: Final = HEADER.unpack_from

# One shared encoder: json.dumps() builds a new JSONEncoder per call when given options,
# but with defaults it reuses a module-level one; using ours keeps the same output.
_ENCODER: Final = json.JSONEncoder()
_DECODER: Final = json.JSONDecoder()
_JSON_WHITESPACE: Final = frozenset(" \t\n\r")


class FrameBuffer:
    """Incremental decoder: feed bytes with :meth:`receive_data`, take frames out
    with :meth:`take_frames` (the one reader: the connection and the tests use it)."""

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

    def take_frames(self, limit: int | None = None) -> list[tuple[bytearray, int]]:
        """Every complete frame held (at most ``limit``), as ``(payload, flags)``
        tuples, in order.

        One call per received chunk; payloads are bytearray slices (one copy less
        than bytes).  A fatal header after some good frames
        returns the good ones and poisons the buffer: :meth:`raise_if_failed` and
        the next call raise the error.  Frames beyond ``limit`` stay buffered
        (:attr:`has_frame` tells whether one is complete).

        Raises:
            FrameTooLargeError: the first header announces more than MAX_PAYLOAD bytes.
            UnknownCriticalFlagsError: the first header sets an unknown critical flag.
        """
        if self._error is not None:
            raise self._error
        buf, pos = self._buf, self._pos
        size = len(buf)
        frames: list[tuple[bytearray, int]] = []
        append = frames.append
        left = -1 if limit is None else limit  # (never reaches 0 when unlimited)
        while size - pos >= _HEADER_SIZE and left:
            length, flags = _unpack_header(buf, pos)
            if length > MAX_PAYLOAD or flags & _UNKNOWN_CRITICAL:
                try:
                    self._check_header(length, flags)
                except ProtocolError:
                    if frames:
                        break  # poisoned: raised at the next call
                    raise
            end = pos + _HEADER_SIZE + length
            if size < end:
                break
            append((buf[pos + _HEADER_SIZE : end], flags))
            pos = end
            left -= 1
        self._pos = pos
        return frames

    @property
    def has_frame(self) -> bool:
        """True when a complete frame (or a fatal header) is buffered."""
        buf, pos = self._buf, self._pos
        if self._error is not None:
            return True
        if len(buf) - pos < _HEADER_SIZE:
            return False
        length: int = _unpack_header(buf, pos)[0]
        return length > MAX_PAYLOAD or len(buf) >= pos + _HEADER_SIZE + length

    def raise_if_failed(self) -> None:
        """Raise the fatal error met by :meth:`take_frames`, if there was one."""
        if self._error is not None:
            raise self._error

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
        raise payload_too_large(length)
    return HEADER.pack(length, flags) + payload


def payload_too_large(length: int) -> LocalProtocolError:
    """The error of a payload over :data:`MAX_PAYLOAD` bytes (the one wording)."""
    return LocalProtocolError(
        f"payload of {length} bytes exceeds the {MAX_PAYLOAD}-byte limit"
    )


def encode_message(msg: dict[str, Any]) -> bytes:
    """Encode a message the way the original does (``json.dumps`` defaults)."""
    return _ENCODER.encode(msg).encode("ascii")


def decode_message(payload: bytes | bytearray) -> dict[str, Any]:
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


def _c_encoder() -> Any:
    make = json.encoder.c_make_encoder  # type: ignore[attr-defined]
    if make is None:
        return None
    e = _ENCODER
    return make(None, e.default, json.encoder.encode_basestring_ascii, e.indent,
                e.key_separator, e.item_separator, e.sort_keys, e.skipkeys,
                e.allow_nan)  # fmt: skip


_C_ENCODE: Final = _c_encoder()


class JsonCodec:
    """Per-connection JSON layer: the same bytes and verdicts as the functions above.

    Why it exists: ``json.dumps``/``json.loads`` set up a C encoder (or go through
    argument checks and a whitespace regex) on every call, which is a third of their
    cost for our small messages.  This codec builds the C encoder and scanner once and
    calls them directly; anything unusual (leading or trailing whitespace, a scan
    failure, an encoding error) falls back to the general functions, so the output and
    the error messages stay exactly those of :func:`encode_message` and
    :func:`decode_message`.

    The C encoder is made without a circular-reference table (``markers=None``): the
    table costs a dict insertion and deletion per container on every call.  A
    circular structure then ends in RecursionError, and the general path raises the
    error ``json.dumps`` raises.  Without that table the encoder holds no state, so it
    is shared by every codec.
    """

    __slots__ = ("scan",)

    def __init__(self) -> None:
        # The C scanner: ``scan(text, 0)`` gives ``(value, end)`` or raises.  A full
        # decode also needs ``end == len(text)`` (no trailing text) and a dict; the
        # scanner never skips leading whitespace (it raises instead).
        self.scan: Any = json.scanner.make_scanner(_DECODER)  # type: ignore[arg-type]

    def encode(self, msg: dict[str, Any]) -> bytes:
        """Encode like :func:`encode_message`."""
        if _C_ENCODE is None:  # no C accelerator: the plain encoder is all there is
            return encode_message(msg)
        try:
            return "".join(_C_ENCODE(msg, 0)).encode("ascii")
        except Exception:
            return encode_message(msg)  # the usual error, or the same bytes

    def decode(self, payload: bytes | bytearray) -> dict[str, Any]:
        """Decode like :func:`decode_message` (same errors)."""
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            return decode_message(payload)
        if text and text[0] not in _JSON_WHITESPACE:
            try:
                value, end = self.scan(text, 0)
            except (StopIteration, ValueError, RecursionError):
                return decode_message(payload)
            if end == len(text) and type(value) is dict:
                return value
        return decode_message(payload)
