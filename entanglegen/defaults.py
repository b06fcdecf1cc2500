"""Stage 2b (continued): do a property's options fit its resolved type?

:func:`option_problems` checks every option whose meaning depends on the type: ``length``,
``precision``/``scale`` (decimal), ``of`` (list/map), ``onupdate`` (datetime),
``server_default`` and ``default``.

Defaults are plain YAML values; each type accepts its own kind (``bool`` is not an
``int``, a YAML date is a ``date``, ``json`` takes finite JSON values only), enums take one
of their values, references only null, and three words are special: ``random`` (uuid),
``now`` (datetime) and ``today`` (date), computed per object by the generated code.
"""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime

from .diagnostics import Loc
from .schema import did_you_mean
from .spec import MISSING, EnumSpec, PropertySpec, Resolved, TypeSpec

__all__ = [
    "MAX_DEFAULT_DEPTH",
    "SERVER_DEFAULT_SCALARS",
    "SPECIAL_DEFAULTS",
    "default_problems",
    "option_problems",
    "server_default_problems",
]

Problem = tuple[Loc | None, str, str, str]
"""(where, message, key path, hint) of one located error."""

# Types whose values every database writes the same way as a DEFAULT literal.
SERVER_DEFAULT_SCALARS = (
    "str",
    "int",
    "float",
    "bool",
    "date",
    "datetime",
    "decimal",
)
_ITEM_FITS: dict[str, Callable[[object], bool]] = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: (
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    ),
    "bool": lambda v: isinstance(v, bool),
}

SPECIAL_DEFAULTS = {"uuid": "random", "datetime": "now", "date": "today"}
# A json default becomes one nested literal; Python's parser refuses 200 nested brackets
# and black gets slow long before.  The loader's own bound (64 levels) is not enough alone:
# this one holds wherever the default is placed.
MAX_DEFAULT_DEPTH = 20


def default_problems(
    prop: PropertySpec, res: Resolved, enum: EnumSpec | None
) -> Iterator[tuple[str, str]]:
    """(message, hint) for each way ``prop``'s default does not fit its type."""
    value = prop.default
    if value is None:
        if not prop.nullable:
            yield f"default null needs nullable: true on property {prop.name!r}", ""
        return
    if res.kind == "enum":
        if enum is not None and value not in enum.values:
            hint = did_you_mean(str(value), list(enum.values))
            yield f"default {value!r} is not one of the enum values", hint
        return
    if res.kind == "ref":
        yield "a reference can only default to null", ""
        return
    if (depth := _depth(value)) > MAX_DEFAULT_DEPTH:
        yield (
            f"default nests {depth} levels deep; the limit is {MAX_DEFAULT_DEPTH}",
            "a default is a small value: set deep structures in code",
        )
        return
    if res.container or res.scalar == "decimal":
        yield from _typed_problems(prop, res, "default")
        return
    if not _default_fits(res.scalar, value):
        special = SPECIAL_DEFAULTS.get(res.scalar)
        hint = f"the special default of {res.scalar} is {special!r}" if special else ""
        if res.scalar in ("float", "json") and _non_finite(value):
            hint = "NaN and infinities are refused: the wire is JSON, which has neither"
        yield f"default {value!r} is not a valid {res.scalar}", hint


def _non_finite(value: object) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list):
        return any(_non_finite(v) for v in value)
    if isinstance(value, dict):
        return any(_non_finite(v) for v in value.values())
    return False


def _depth(value: object) -> int:
    # Iterative: the bound is what is being checked.
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, list | dict):
            level += 1
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack += [(child, level) for child in children]
    return deepest


def _default_fits(scalar: str, value: object) -> bool:
    if value == SPECIAL_DEFAULTS.get(scalar):
        return True
    checks: dict[str, Callable[[object], bool]] = {
        "str": lambda v: isinstance(v, str),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        # docs/quirks.md: non-finite defaults are refused (peers' JSON has no NaN).
        "float": lambda v: (
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        ),
        "bool": lambda v: isinstance(v, bool),
        "json": _is_json,
        "date": lambda v: isinstance(v, date) and not isinstance(v, datetime),
    }
    check = checks.get(scalar)
    return bool(check and check(value))


def _is_json(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)  # JSON has no NaN or Infinity
    if value is None or isinstance(value, str | int | bool):
        return True
    if isinstance(value, list):
        return all(_is_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


def server_default_problems(
    prop: PropertySpec, res: Resolved, enum: EnumSpec | None
) -> Iterator[tuple[str, str]]:
    """(message, hint) for each way ``prop``'s server_default does not fit its type."""
    value = prop.server_default
    if value is None:
        yield "server_default null is what the database does already", "remove it"
        return
    if res.kind == "enum":
        if enum is not None and value not in enum.values:
            hint = did_you_mean(str(value), list(enum.values))
            yield f"server_default {value!r} is not one of the enum values", hint
        return
    if res.kind == "ref" or res.scalar not in SERVER_DEFAULT_SCALARS:
        what = "a reference" if res.kind == "ref" else f"type {res.scalar}"
        yield (
            f"{what} has no portable server_default",
            "use default: (computed by the generated code) instead",
        )
        return
    if res.scalar == "decimal":
        yield from _typed_problems(prop, res, "server_default")
        return
    if res.scalar == "datetime":
        if value != "now":
            yield f"server_default of a datetime must be 'now', not {value!r}", ""
        return
    if value == SPECIAL_DEFAULTS.get(res.scalar) or not _default_fits(
        res.scalar, value
    ):
        yield f"server_default {value!r} is not a valid {res.scalar}", ""
    elif (
        prop.length is not None and isinstance(value, str) and len(value) > prop.length
    ):
        yield f"server_default is longer than length {prop.length}", ""


_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def _typed_problems(
    prop: PropertySpec, res: Resolved, what: str
) -> Iterator[tuple[str, str]]:
    """Problems of a decimal's or a list's/map's ``default`` or ``server_default``."""
    value = prop.default if what == "default" else prop.server_default
    if res.container:
        fits = _ITEM_FITS[res.item]
        if res.container == "list":
            ok = isinstance(value, list) and all(fits(v) for v in value)
        else:
            ok = isinstance(value, dict) and all(fits(v) for v in value.values())
        if not ok:
            shape = (
                f"list of {res.item}"
                if res.container == "list"
                else (f"map of str to {res.item}")
            )
            yield f"{what} {value!r} is not a {shape}", ""
        return
    if isinstance(value, float):
        yield (
            f"{what} {value!r} of a decimal is a YAML float (binary, inexact)",
            f'quote it: {what}: "{value}"',
        )
        return
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else ""
    text = value if isinstance(value, str) else text
    if not _DECIMAL.fullmatch(text):
        yield f'{what} {value!r} is not a decimal such as "12.50"', ""
        return
    # Imported here: the runtime package loads SQLAlchemy (about half a second), which
    # a build of a schema without decimal defaults must not pay.
    from entanglement.exact import check_decimal

    try:
        check_decimal(decimal.Decimal(text), prop.precision, prop.scale)
    except ValueError as exc:
        yield f"{what} {text}: {exc}", ""


def option_problems(
    spec: TypeSpec, prop: PropertySpec, res: Resolved, enum: EnumSpec | None
) -> Iterator[Problem]:
    """Every located error of ``prop``'s type-dependent options."""
    kp = prop.key_path
    yield from _digit_problems(prop, res)
    if prop.of is not None and not res.container:
        yield prop.of.loc, "of applies to type: list and map only", f"{kp}.of", ""
    if prop.length is not None and res.scalar not in ("str", "bytes"):
        yield prop.length_loc, "length applies to str and bytes only", f"{kp}.length", ""
    if prop.onupdate is not None and (res.kind, res.scalar) != ("scalar", "datetime"):
        where = f"{kp}.onupdate"
        yield prop.onupdate.loc, "onupdate: now applies to datetime properties only", (
            where
        ), ""
    if prop.server_default is not MISSING:
        for message, hint in server_default_problems(prop, res, enum):
            yield prop.server_default_loc, message, f"{kp}.server_default", hint
    if prop.default is not MISSING:
        for message, hint in default_problems(prop, res, enum):
            yield prop.default_loc, message, f"{kp}.default", hint


def _digit_problems(prop: PropertySpec, res: Resolved) -> Iterator[Problem]:
    loc, kp = prop.digits_loc or prop.loc, prop.key_path
    if res.scalar != "decimal":
        if prop.precision is not None or prop.scale is not None:
            yield loc, "precision and scale apply to decimal only", kp, ""
    elif prop.precision is None and not prop.precision_written:
        yield (
            prop.type.loc,
            "a decimal needs precision: (its total digits)",
            f"{kp}.type",
            "for money, e.g. precision: 12, scale: 2",
        )
    elif prop.scale is not None and prop.scale > (prop.precision or prop.scale):
        yield loc, f"scale {prop.scale} is more than precision {prop.precision}", (
            f"{kp}.scale"
        ), ""
