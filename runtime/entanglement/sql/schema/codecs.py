"""The SQL half of the type map (PROTOCOL.md §8.4, §12.10): codecs for column types.

Registered here: ``Date``/``DateTime`` (ISO-8601), ``LargeBinary``/``BINARY``/``VARBINARY``
(standard base64), ``GUID`` (UUID text), ``SqlDestHash`` (hash text), ``Float`` (float),
``Integer`` (int); received numbers are never converted: ``2.5`` for an ``Integer``
is refused, not stored as ``2`` (:func:`~entanglement.types.int_decoder`, issue 9).

Quirk 28 fixed: :func:`column_codec` matches by the column type's MRO (``TIMESTAMP``,
``BigInteger``, ``BLOB`` ... find their base's codec), then, for a ``TypeDecorator`` that is
not registered itself, by the MRO of the type it decorates; an ``Enum`` column whose enum
class is registered (``register_enum``) uses that enum's codec.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator, TypeEngine

from entanglement._hashes import DestHash
from entanglement.sql.schema.types import GUID, SqlDestHash
from entanglement.types import (
    Codec,
    binary_decoder,
    binary_encoder,
    datetime_decoder,
    datetime_encoder,
    float_decoder,
    int_decoder,
    lookup_codec,
    register_type,
    uuid_decoder,
    uuid_encoder,
)

__all__ = ["column_codec"]


def _to_float(value: Any) -> float:
    return float(value)


def _to_int(value: Any) -> int:
    return int(value)


def _hash_text(value: DestHash) -> str:
    return str(value)


for _datetime_type in (sa.Date, sa.DateTime):
    register_type(_datetime_type, datetime_encoder, datetime_decoder)
for _binary_type in (sa.LargeBinary, sa.BINARY, sa.VARBINARY):
    register_type(_binary_type, binary_encoder, binary_decoder)
register_type(GUID, uuid_encoder, uuid_decoder)
register_type(SqlDestHash, _hash_text, DestHash.parse)
register_type(sa.Float, _to_float, float_decoder)  # received: never converted (issue 9)
register_type(sa.Integer, _to_int, int_decoder)  # received: never converted (issue 9)


def column_codec(column_type: TypeEngine[Any]) -> Codec | None:
    """The codec for values of a column of the given type, or None (values pass as-is).

    Args:
        column_type: the SQLAlchemy type instance of the column.
    """
    codec = lookup_codec(type(column_type))
    if codec is not None:
        return codec
    if isinstance(column_type, TypeDecorator):
        return column_codec(column_type.impl_instance)
    enum_class = getattr(column_type, "enum_class", None)
    if isinstance(column_type, sa.Enum) and enum_class is not None:
        return lookup_codec(enum_class)
    return None
