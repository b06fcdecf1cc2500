"""Value codecs: the type map that turns Python values into JSON values and back (§8.4).

A *codec* is a pair ``(encoder, decoder)``.  Encoders run on non-None values before they are
put into a message; decoders run on non-null JSON values when an object is filled from a
message.  :func:`lookup_codec` is the single lookup used by ``sync_property`` (for ``type=``
and annotations) and by the SQL layer (with the column type's class).

Built-in entries (wire forms are byte-compatible with the original):

* ``uuid.UUID``: canonical lowercase text; an empty string decodes to None.
* ``datetime.datetime`` and ``datetime.date``: ISO-8601 text.  Aware values are converted to
  UTC (``+00:00`` suffix), naive values are sent as they are; microseconds appear only when
  non-zero; a ``date`` is ``YYYY-MM-DD``.  Decoding always gives an *aware* ``datetime``
  (values without an offset are taken as UTC), even for dates.
* ``DestHash`` (and ``CertHash``): the ``ni:///sha-256;`` text; decoded back to a DestHash.
* ``bytes``: standard base64 (``binary_encoder``/``binary_decoder``).
* Enums registered with :func:`register_enum`: the member name.

Choices and fixed quirks:

* Quirk 28 fixed: lookup walks the type's MRO, so subclasses of a registered type (e.g. a
  custom ``datetime`` subclass, or an SQL type derived from a registered one) find the
  codec of their nearest registered base.
* Quirk 26 fixed without changing the wire: the enum decoder accepts the member *name*
  (what every peer sends) and, failing that, a member *value*.
* A received value is never converted to fit its declared type (issue 9): the
  strict decoders :func:`int_decoder` (an ``int`` of 64 bits, ``bool`` refused) and
  :func:`float_decoder` (an ``int`` or ``float``, ``bool`` refused) accept exactly the
  JSON values of their type and refuse anything else with a ``ValueError`` naming the
  value (quoted and capped by :func:`describe_value`); ``2.5`` is never stored as
  ``2``.  The codec plans check these types inline, without calling the decoders.
* Any value with a ``sync_encode_value()`` method that has no codec of its own is encoded
  by calling that method (:func:`default_encoder`); such values decode as the JSON value.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import enum
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from ._hashes import DestHash
from ._sansio.peertext import peer_repr

__all__ = [
    "Codec",
    "Decoder",
    "Encoder",
    "binary_decoder",
    "binary_encoder",
    "datetime_decoder",
    "datetime_encoder",
    "default_encoder",
    "describe_value",
    "float_decoder",
    "int_decoder",
    "lookup_codec",
    "register_enum",
    "register_type",
    "uuid_decoder",
    "uuid_encoder",
]

Encoder = Callable[[Any], Any]
Decoder = Callable[[Any], Any]
E = TypeVar("E", bound=enum.Enum)


@dataclass(frozen=True, slots=True)
class Codec:
    """An encoder/decoder pair for one type."""

    encoder: Encoder
    decoder: Decoder


_type_map: dict[type, Codec] = {}
_lock = threading.Lock()


def register_type(typ: type, encoder: Encoder, decoder: Decoder) -> None:
    """Add (or replace) the codec used for values declared with type ``typ``.

    Args:
        typ: a Python class or an SQL column type class; subclasses match too.
        encoder: called with a non-None value, returns a JSON-serialisable value.
        decoder: called with a non-null JSON value, returns the Python value.
    """
    with _lock:
        _type_map[typ] = Codec(encoder, decoder)


def lookup_codec(typ: object) -> Codec | None:
    """Find the codec for a type: the nearest registered class in its MRO.

    Args:
        typ: a class (anything else, e.g. an unevaluated annotation, matches nothing).

    Returns:
        The codec, or None when no class of the MRO is registered.
    """
    if not isinstance(typ, type):
        return None
    for klass in typ.__mro__:
        codec = _type_map.get(klass)
        if codec is not None:
            return codec
    return None


def register_enum(enum_class: type[E]) -> type[E]:
    """Register an Enum so that its members travel as their *names*.

    Decoding accepts a member name (what peers send) and, if no member has that name, a
    member value (so enums whose names and values differ still decode; quirk 26).  Usable
    as a class decorator.

    Args:
        enum_class: the Enum class.

    Returns:
        ``enum_class`` unchanged.
    """

    def decode(value: Any) -> E:
        if isinstance(value, str) and value in enum_class.__members__:
            return enum_class[value]
        try:
            return enum_class(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is neither a member name nor a value of {enum_class.__name__}"
            ) from None

    register_type(enum_class, _enum_name, decode)
    return enum_class


def _enum_name(member: enum.Enum) -> str:
    return member.name


# Exact types that never have sync_encode_value: skipping the getattr (a failed
# attribute lookup raises and catches internally) matters on the per-object send path.
_PLAIN_TYPES: Final = frozenset({str, int, float, bool})


def default_encoder(value: Any) -> Any:
    """Encode a value that has no codec: ``sync_encode_value()`` if it has one, else as-is."""
    if type(value) in _PLAIN_TYPES:
        return value
    encode = getattr(value, "sync_encode_value", None)
    if encode is not None and callable(encode):
        return encode()
    return value


def datetime_encoder(dt: datetime.date) -> str:
    """Encode a datetime (aware → UTC ``+00:00``; naive as-is) or a date as ISO-8601."""
    if isinstance(dt, datetime.datetime):
        if dt.tzinfo is not None and dt.utcoffset() is not None:
            dt = dt.astimezone(datetime.UTC)
        return dt.isoformat()
    if isinstance(dt, datetime.date):
        return dt.isoformat()
    raise TypeError(f"expected a datetime or date, got {type(dt).__name__}")


def datetime_decoder(value: str) -> datetime.datetime:
    """Decode ISO-8601 text into an aware datetime (no offset means UTC).

    Raises:
        ValueError: if the text is not ISO-8601.
        TypeError: if the value is not a string.
    """
    if not isinstance(value, str):
        raise TypeError(f"expected ISO-8601 text, got {type(value).__name__}")
    parsed = datetime.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed


def uuid_encoder(val: uuid.UUID | str) -> str:
    """Encode a UUID as its canonical lowercase hyphenated text."""
    if isinstance(val, uuid.UUID):
        return str(val)
    return str(uuid.UUID(str(val)))


def uuid_decoder(val: str | uuid.UUID) -> uuid.UUID | None:
    """Decode UUID text; an empty string gives None."""
    if type(val) is str and len(val) == 36:
        # The hyphenated form every peer sends (most keys and owners): uuid.UUID's
        # own parse of it (hyphens out, 32 hex digits, int(..., 16)) without the
        # checks of its five keyword arguments, which cost more than the parse.
        # Whatever int() refuses goes to uuid.UUID, for its error message.
        digits = val.replace("-", "")
        if len(digits) == 32:
            try:
                number = int(digits, 16)
            except ValueError:
                return uuid.UUID(val)
            decoded = _new_uuid(uuid.UUID)
            _set_slot(decoded, "int", number)
            _set_slot(decoded, "is_safe", _SAFE_UNKNOWN)
            return decoded
    if isinstance(val, uuid.UUID):
        return val
    if val == "":
        return None
    if not isinstance(val, str):
        raise TypeError(f"expected UUID text, got {type(val).__name__}")
    return uuid.UUID(val)


# what uuid.UUID.__init__ does last (UUID objects are immutable: object.__setattr__)
_new_uuid, _set_slot = object.__new__, object.__setattr__
_SAFE_UNKNOWN = uuid.SafeUUID.unknown


def binary_encoder(val: bytes | bytearray | memoryview) -> str:
    """Encode bytes as standard base64 (``+``, ``/``, ``=`` padding)."""
    return base64.b64encode(bytes(val)).decode("ascii")


def binary_decoder(val: str) -> bytes:
    """Decode standard base64 text.

    Raises:
        ValueError: if the text is not valid base64.
    """
    try:
        return base64.b64decode(val, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"bad base64: {exc}") from None


INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1


def describe_value(value: Any) -> str:
    """``float 2.5``: the JSON type and the (quoted, capped) value, for error texts."""
    kind = {str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )
    return f"{kind} {peer_repr(value)}"


def int_decoder(value: Any) -> int:
    """Accept an integer of 64 bits as it is; refuse anything else (never converted).

    Raises:
        ValueError: a float, string, boolean... or an integer out of range.
    """
    if type(value) is int and INT64_MIN <= value <= INT64_MAX:
        return value
    if type(value) is int:
        raise ValueError(
            f"an integer of 64 bits is expected, got {describe_value(value)}"
        )
    raise ValueError(f"an integer is expected, got {describe_value(value)}")


def float_decoder(value: Any) -> float:
    """Accept a JSON number (an integer or a float) as it is; refuse anything else.

    Raises:
        ValueError: a string, boolean, ... (never converted).
    """
    if type(value) is float or type(value) is int:
        return value
    raise ValueError(f"a number is expected, got {describe_value(value)}")


def _desthash_decoder(val: str) -> DestHash:
    return DestHash.parse(val)


register_type(uuid.UUID, uuid_encoder, uuid_decoder)
register_type(datetime.datetime, datetime_encoder, datetime_decoder)
register_type(datetime.date, datetime_encoder, datetime_decoder)
register_type(DestHash, str, _desthash_decoder)
register_type(bytes, binary_encoder, binary_decoder)
