"""Column types of the SQL layer: :class:`GUID` and :class:`SqlDestHash` (PROTOCOL.md §12.10).

* ``GUID`` stores a UUID as 32 lowercase hex digits (``uuid.UUID.hex``), the form the
  original writes, so databases of the original can be read and upgraded.  It accepts a
  ``uuid.UUID`` or any text ``uuid.UUID()`` parses (hyphenated or not) and returns
  ``uuid.UUID``.
* ``SqlDestHash`` stores the 58-character text form of a DestHash in a VARCHAR(60) and
  returns a :class:`~entanglement.DestHash`.

Both raise ``ValueError`` naming the bad value instead of storing something unreadable.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from entanglement._hashes import DestHash

__all__ = ["GUID", "SqlDestHash"]


class GUID(TypeDecorator[uuid.UUID]):
    """A UUID column stored as 32 lowercase hex characters."""

    impl = String(32)
    cache_ok = True

    @property
    def python_type(self) -> type[uuid.UUID]:
        return uuid.UUID

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return as_uuid(value).hex

    def process_result_value(self, value: Any, dialect: Dialect) -> uuid.UUID | None:
        if value is None:
            return None
        return as_uuid(value)


class SqlDestHash(TypeDecorator[DestHash]):
    """A DestHash column stored as its text form (``ni:///sha-256;...``)."""

    impl = String(60)
    cache_ok = True

    @property
    def python_type(self) -> type[DestHash]:
        return DestHash

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return str(as_dest_hash(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> DestHash | None:
        if value is None:
            return None
        return DestHash.parse(value)


def as_uuid(value: object) -> uuid.UUID:
    """Return ``value`` as a UUID.

    Args:
        value: a ``uuid.UUID`` or a UUID text.

    Returns:
        The UUID.

    Raises:
        ValueError: if ``value`` is neither a UUID nor a valid UUID text.
    """
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            raise ValueError(f"not a UUID text: {value!r}") from None
    raise ValueError(f"not a UUID: {value!r} ({type(value).__name__})")


def as_dest_hash(value: object) -> DestHash:
    """Return ``value`` as a DestHash (accepting a DestHash, its text, or 32 bytes).

    Raises:
        ValueError: if ``value`` is not a DestHash in any accepted form.
    """
    if isinstance(value, DestHash):
        return value
    if isinstance(value, str):
        return DestHash.parse(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return DestHash(value)
    raise ValueError(f"not a DestHash: {value!r} ({type(value).__name__})")
