"""Codecs of references to types whose key has several parts (generated packages).

A reference stores the referenced object's key.  When that key has several parts
(``Seat`` keyed by ``hall`` and ``number``), the reference is one property whose wire
form is a JSON **array of the parts in key order**, each part in the wire form the
referenced type's own messages give it (uuid as canonical text, int and str as they are):
``"seat": ["B", 12]``.  Python holds it as a tuple (a generated ``NamedTuple`` such as
``SeatKey``), the very value an in-memory store uses as that object's key.

Received values are never converted, as everywhere in this runtime: anything but an
array of exactly the right number of parts, each of its part's exact type (``true`` is
not an int, ``"12"`` is not an int, a string longer than its column is refused), raises a
``ValueError`` naming the part, which the receive pipeline turns into a
``SyncBadEncodingError`` for the sender.

Choice where the spec is silent: an array rather than an object keyed by part names, so
the form follows the key's order (the order of ``sync_primary_keys``) and stays the
same when a part of the referenced type is renamed with ``renamed_from``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .types import describe_value, int_decoder

__all__ = [
    "any_none",
    "int_part",
    "key_decoder",
    "key_encoder",
    "str_part",
    "uuid_part",
]

_K = TypeVar("_K")
Part = Callable[[Any], Any]


def key_encoder(*parts: Part | None) -> Callable[[Sequence[Any]], list[Any]]:
    """An encoder of a key tuple: each part through its encoder (None: as it is)."""

    def encode(value: Sequence[Any]) -> list[Any]:
        if len(value) != len(parts):
            raise ValueError(
                f"a key of {len(parts)} parts is expected, got {len(value)} values"
            )
        return [
            item if part is None else part(item)
            for part, item in zip(parts, value, strict=True)
        ]

    return encode


def key_decoder(
    make: Callable[..., _K], names: Sequence[str], *parts: Part
) -> Callable[[Any], _K]:
    """A decoder of a key array into ``make(*parts)`` (a generated ``NamedTuple``).

    Args:
        make: builds the Python value from the decoded parts, in key order.
        names: the parts' names, for error texts.
        parts: one strict decoder per part (:func:`str_part`, :func:`int_part`,
            :func:`uuid_part`).
    """
    if len(names) != len(parts):
        raise ValueError("one name per key part is needed")
    shape = f"an array of {len(parts)} key parts [{', '.join(names)}]"

    def decode(value: Any) -> _K:
        if type(value) is not list or len(value) != len(parts):
            raise ValueError(f"{shape} is expected, got {describe_value(value)}")
        items = []
        for name, part, item in zip(names, parts, value, strict=True):
            try:
                items.append(part(item))
            except ValueError as exc:
                raise ValueError(f"key part {name!r}: {exc}") from None
        return make(*items)

    return decode


def str_part(length: int | None = None) -> Part:
    """A key part that is a string (of at most ``length`` characters when given)."""

    def decode(value: Any) -> str:
        if type(value) is not str:
            raise ValueError(f"a string is expected, got {describe_value(value)}")
        if length is not None and len(value) > length:
            raise ValueError(
                f"a string of at most {length} characters is expected, got "
                f"{len(value)} characters"
            )
        return value

    return decode


def int_part(value: Any) -> int:
    """A key part that is an integer of 64 bits (never a float, bool or string)."""
    return int_decoder(value)


def uuid_part(value: Any) -> uuid.UUID:
    """A key part that is a UUID as text (never empty: a key part is never null)."""
    if type(value) is not str:
        raise ValueError(f"UUID text is expected, got {describe_value(value)}")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValueError(
            f"UUID text is expected, got {describe_value(value)}"
        ) from None


def any_none(*parts: Any) -> bool:
    """True when a part is None: the row holds no reference (SQLAlchemy composite's
    ``return_none_on``, so a NULL reference reads as None rather than a key of Nones).
    """
    return any(part is None for part in parts)
