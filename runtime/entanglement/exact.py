"""Exact value codecs of generated packages: decimals, and JSON lists and maps of a scalar.

Decimals travel as **text** (``"12.50"``): a JSON number would pass through a double on
most peers and lose digits.  :func:`decimal_encoder` writes plain notation (never an
exponent) and keeps the value's own digits; :func:`decimal_decoder` accepts only such text
and, given a precision and scale, refuses a value with more digits than the column holds.
Received values are never converted (as for every other type of this runtime): ``"1.234"``
for a scale of 2 is refused with a ``ValueError`` naming the value, not rounded, and a JSON
number is refused rather than taken through a float.  Importing this module registers
``decimal.Decimal`` with :func:`entanglement.types.register_type`, so a
``sync_property(type=decimal.Decimal)`` finds the codec too.

Lists and maps (``list[str]``, ``dict[str, int]``) are JSON values whose items must all be
of one JSON scalar type: :func:`list_decoder` and :func:`map_decoder` check every item
with the same strictness as the runtime's own decoders (``True`` is not an ``int``, ``2.5``
is not an ``int``, an ``int`` is a ``float``) and return a fresh list or dict.
"""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Callable
from typing import Any

from .types import describe_value, register_type

__all__ = [
    "check_decimal",
    "decimal_decoder",
    "decimal_encoder",
    "list_decoder",
    "map_decoder",
]

# Plain decimal notation, as decimal_encoder writes it.  The length bound keeps a hostile
# peer from making Decimal parse megabytes (PostgreSQL's numeric holds 1000 digits).
_DECIMAL_TEXT = re.compile(r"-?[0-9]{1,1001}(\.[0-9]{1,1001})?")


def decimal_encoder(value: decimal.Decimal) -> str:
    """Wire form of a decimal: plain notation with the value's own digits (``"1.50"``).

    Raises:
        ValueError: for NaN and infinities, which have no wire form.
    """
    if not value.is_finite():
        raise ValueError(f"{value} cannot be sent: only finite decimals travel")
    return format(value, "f")


def check_decimal(
    value: decimal.Decimal, precision: int | None, scale: int | None
) -> decimal.Decimal:
    """``value`` if it fits ``precision`` digits of which ``scale`` after the point.

    Raises:
        ValueError: naming the value, when it is not finite or has too many digits.
    """
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite decimal")
    if precision is None:
        return value
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite
    fraction = max(0, -exponent)
    whole = max(0, len(digits) + exponent) if any(digits) else 0
    places = scale or 0
    if fraction > places:
        raise ValueError(
            f"{value} has {fraction} digits after the point; at most {places} fit"
        )
    if whole > precision - places:
        raise ValueError(
            f"{value} has {whole} digits before the point; at most "
            f"{precision - places} fit"
        )
    return value


def decimal_decoder(
    precision: int | None = None, scale: int | None = None
) -> Callable[[Any], decimal.Decimal]:
    """A decoder of decimal text that refuses what ``precision``/``scale`` cannot hold."""

    def decode(value: Any) -> decimal.Decimal:
        if not isinstance(value, str) or _DECIMAL_TEXT.fullmatch(value) is None:
            raise ValueError(
                f"expected a decimal as text such as '12.50', got {describe_value(value)}"
            )
        return check_decimal(decimal.Decimal(value), precision, scale)

    return decode


def _is_int(value: object) -> bool:
    return isinstance(value, int) and type(value) is int and -(2**63) <= value < 2**63


def _is_float(value: object) -> bool:
    if isinstance(value, float) and type(value) is float:
        return math.isfinite(value)
    return _is_int(value)


_ITEM_CHECKS: dict[str, Callable[[object], bool]] = {
    "str": lambda v: type(v) is str,
    "int": _is_int,
    "float": _is_float,
    "bool": lambda v: type(v) is bool,
}
ITEM_TYPES = tuple(_ITEM_CHECKS)
"""The scalar types a list or map may hold: JSON's own, so items need no codec."""


def list_decoder(item: str) -> Callable[[Any], list[Any]]:
    """A decoder of a JSON array whose items are all of scalar type ``item``."""
    check = _ITEM_CHECKS[item]

    def decode(value: Any) -> list[Any]:
        if type(value) is not list:
            raise ValueError(f"expected a list of {item}, got {describe_value(value)}")
        for entry in value:
            if not check(entry):
                raise ValueError(
                    f"expected a list of {item}, it holds {describe_value(entry)}"
                )
        return list(value)

    return decode


def map_decoder(item: str) -> Callable[[Any], dict[str, Any]]:
    """A decoder of a JSON object whose values are all of scalar type ``item``."""
    check = _ITEM_CHECKS[item]

    def decode(value: Any) -> dict[str, Any]:
        if type(value) is not dict:
            raise ValueError(
                f"expected a map of str to {item}, got {describe_value(value)}"
            )
        for key, entry in value.items():
            if type(key) is not str or not check(entry):
                raise ValueError(
                    f"expected a map of str to {item}, it holds "
                    f"{describe_value(key)}: {describe_value(entry)}"
                )
        return dict(value)

    return decode


register_type(decimal.Decimal, decimal_encoder, decimal_decoder())
