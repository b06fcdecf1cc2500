"""The SQL column type of exact decimals: :class:`ExactDecimal`.

PostgreSQL stores ``NUMERIC(precision, scale)``.  SQLite has no decimal type, and
SQLAlchemy's ``Numeric`` there goes through a float with a warning; so this type stores
a decimal of at most 15 digits as a REAL (every decimal of 15 significant digits survives
a double exactly: it is read back and quantised to the scale), which keeps ``ORDER BY``,
comparisons and checks numeric, and a longer one as its text (exact, but compared as text
by SQLite's own SQL).

Values are never rounded on the way in: one with more digits after the point than the
scale, or more before it than ``precision - scale``, raises ``ValueError`` naming it when
the row is written, instead of being stored altered (PostgreSQL would round it).
"""

from __future__ import annotations

import decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from entanglement.exact import check_decimal

__all__ = ["ExactDecimal"]

# Decimal digits a double holds exactly (DBL_DIG).
_DOUBLE_DIGITS = 15


class ExactDecimal(TypeDecorator[decimal.Decimal]):
    """A decimal column of ``precision`` digits, ``scale`` of them after the point.

    Args:
        precision: total digits, 1 to 1000.
        scale: digits after the point, 0 to ``precision``.
    """

    impl = sa.Numeric
    cache_ok = True

    def __init__(self, precision: int, scale: int = 0) -> None:
        if not 1 <= precision <= 1000 or not 0 <= scale <= precision:
            raise ValueError(f"bad decimal precision/scale {precision}/{scale}")
        super().__init__(precision, scale, asdecimal=True)
        self.precision, self.scale = precision, scale
        self._quantum = decimal.Decimal(1).scaleb(-scale)
        # quantize works within a context's precision (28 digits by default)
        self._context = decimal.Context(prec=precision + 1)

    @property
    def python_type(self) -> type[decimal.Decimal]:
        return decimal.Decimal

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name != "sqlite":
            return dialect.type_descriptor(sa.Numeric(self.precision, self.scale))
        if self.precision <= _DOUBLE_DIGITS:
            return dialect.type_descriptor(sa.Float())
        return dialect.type_descriptor(sa.String(self.precision + 2))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, decimal.Decimal):
            raise ValueError(f"expected a decimal.Decimal, got {value!r}")
        check_decimal(value, self.precision, self.scale)
        if dialect.name != "sqlite":
            return value
        if self.precision <= _DOUBLE_DIGITS:
            return float(value)
        return format(value.quantize(self._quantum, context=self._context), "f")

    def process_result_value(
        self, value: Any, dialect: Dialect
    ) -> decimal.Decimal | None:
        if value is None:
            return None
        # repr of a float is its shortest exact text: the digits that were stored
        text = repr(value) if isinstance(value, float) else str(value)
        return decimal.Decimal(text).quantize(self._quantum, context=self._context)
