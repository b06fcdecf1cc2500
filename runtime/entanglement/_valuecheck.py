"""Checks that a received value fits its property's declared type (issue 9).

A received value is never silently altered: ``2.5`` for an ``int``, a string for a
number, ``true`` for an ``int``, a string longer than its column allows, are refused
with a ``SyncBadEncodingError`` (the receive pipeline answers the sender and logs the
peer), never truncated or converted.

A *rule* says what one property accepts: a Python test over ``v`` (inlined into one
generated function per class, so a message whose values already have their exact
types costs no call per value) and a *checker* with the same test that raises the
error naming the expected type and the (quoted, capped) value.  Rules come from

1. the *rule sources* registered by other layers (the SQL layer: ``String(n)``
   length limits and ``Boolean`` columns, see :mod:`entanglement.sql.schema.plan`);
2. the property's decoder when it is one of the strict decoders of
   :mod:`entanglement.types` (``int_decoder``, ``float_decoder``);
3. for a property without a codec, its annotation or ``type=`` when that is exactly
   ``int``, ``float``, ``str`` or ``bool`` (``Optional`` unwrapped).

Choice where the spec is silent: an integer is a valid ``float`` value (JSON has one
number type; peers in other languages write ``2`` for ``2.0``); a float is never a
valid ``int`` value, not even ``3.0``; ``bool`` is neither.  A declared ``int`` is
unbounded, as Python's; an SQL ``Integer`` column takes 64 bits (what it can store).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ._properties import NO_CODEC, SyncProperty, unwrap_annotation
from .types import INT64_MAX, INT64_MIN, describe_value, float_decoder, int_decoder

__all__ = [
    "BOOL",
    "STR",
    "CheckedNames",
    "ValueRule",
    "add_rule_source",
    "checked_names",
    "enum_rule",
    "rule_of",
    "string_rule",
]


@dataclass(frozen=True)
class ValueRule:
    """What one property accepts (see the module docstring)."""

    expected: str  # for error texts: "an integer", "a string of at most 7 characters"
    test: str  # a Python expression over ``v`` (never None), inlined
    checker: Callable[[Any], Any]  # raises ValueError, else returns the value as is


RuleSource = Callable[[type, str, SyncProperty], "ValueRule | None"]
_sources: list[RuleSource] = []


def add_rule_source(source: RuleSource) -> None:
    """Register a function giving the rule of a property (consulted first)."""
    if source not in _sources:
        _sources.append(source)


def make_rule(expected: str, test: str) -> ValueRule:
    """A rule from its description and test (the checker is compiled from the test)."""
    namespace: dict[str, Any] = {"MIN": INT64_MIN, "MAX": INT64_MAX}
    # Safe: ``test`` is one of this package's fixed expressions (lengths are ints).
    exec(f"def ok(v):\n    return {test}", namespace)
    ok = namespace["ok"]

    def checker(value: Any) -> Any:
        if ok(value):
            return value
        raise ValueError(f"{expected} is expected, got {describe_value(value)}")

    return ValueRule(expected, test, checker)


INT: Final = make_rule("an integer", "type(v) is int")
INT64: Final = make_rule("an integer of 64 bits", "type(v) is int and MIN <= v <= MAX")
FLOAT: Final = make_rule("a number", "type(v) is float or type(v) is int")
STR: Final = make_rule("a string", "type(v) is str")
BOOL: Final = make_rule("a boolean", "type(v) is bool")
_BY_DECODER: Final[dict[Callable[[Any], Any], ValueRule]] = {
    int_decoder: INT64,
    float_decoder: FLOAT,
}
_BY_TYPE: Final = {int: INT, float: FLOAT, str: STR, bool: BOOL}


def string_rule(length: int) -> ValueRule:
    """A string of at most ``length`` characters."""
    return make_rule(
        f"a string of at most {int(length)} characters",
        f"type(v) is str and len(v) <= {int(length)}",
    )


def enum_rule(values: tuple[str, ...]) -> ValueRule:
    """One of the given strings (an ``Enum`` column without an enum class)."""
    names = tuple(str(value) for value in values)
    # repr of a tuple of str is a safe literal
    return make_rule(f"one of {names!r}", f"type(v) is str and v in {names!r}")


def rule_of(cls: type, name: str, prop: SyncProperty) -> ValueRule | None:
    """The rule of one property of ``cls``, or None (anything its decoder accepts)."""
    decoder = prop.codec.decoder
    strict = _BY_DECODER.get(decoder)
    if strict is None and decoder is not NO_CODEC.decoder:
        return None  # a codec of its own: its decoder says what it accepts
    for source in _sources:
        rule = source(cls, name, prop)
        if rule is not None:
            return rule
    if strict is not None:
        return strict
    declared = prop.type if prop.type is not None else prop.declared_type()
    return _BY_TYPE.get(unwrap_annotation(declared))


def checked_names(
    qualname: str, names: frozenset[str], rules: dict[str, ValueRule]
) -> CheckedNames:
    """``names`` whose ``issuperset(msg)`` also checks the ruled values of ``msg``.

    The method is generated for the class (one subclass of :class:`CheckedNames` per
    class), so the subset test and the checks are one Python call per message.
    """
    namespace: dict[str, Any] = {
        "MIN": INT64_MIN,
        "MAX": INT64_MAX,
        "SUBSET": frozenset.issuperset,
    }
    body = ["    get = msg.get"]
    for i, (key, rule) in enumerate(rules.items()):
        namespace[f"K{i}"] = key
        body += [
            f"    v = get(K{i})",
            f"    if v is not None and not ({rule.test}):",
            "        return False",
        ]
    subset = ["def issuperset(self, msg):", *body, "    return SUBSET(self, msg)"]
    source = "\n".join([*subset, "def check(msg):", *body, "    return True"])
    # Safe: keys are read from the namespace; tests are this module's expressions.
    exec(source, namespace)
    for name in ("issuperset", "check"):
        namespace[name].__qualname__ = f"{qualname} value check"
    subclass = type(
        f"CheckedNames[{qualname}]",
        (CheckedNames,),
        {
            "__slots__": (),
            "issuperset": namespace["issuperset"],
            "check": staticmethod(namespace["check"]),
        },
    )
    checked: CheckedNames = subclass(names)
    return checked


class CheckedNames(frozenset[str]):
    """As-is message keys whose ``issuperset`` also checks the values' types.

    The receive paths ask ``names.issuperset(msg)`` before assigning a message's
    values as they are; for a class with rules that one call also runs the class's
    generated checks (see :func:`checked_names`), so a mistyped value sends the
    message down the decoding path, whose checker raises the error.
    """

    __slots__ = ()

    @staticmethod
    def check(msg: dict[str, Any]) -> bool:
        """True if every ruled value of ``msg`` is valid (generated per class)."""
        raise NotImplementedError  # pragma: no cover - every instance's class has one

    def issuperset(self, other: Any) -> bool:
        """True if every key of ``other`` is here and every ruled value is valid."""
        return frozenset.issuperset(self, other) and self.check(other)
