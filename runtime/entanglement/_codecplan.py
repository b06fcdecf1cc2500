"""Per-class codec plans: the common case of ``to_sync()`` and of filling an object.

``to_sync`` and the base ``sync_receive_constructed`` run for every object sent or
received.  Their general loops pay, per property, a method call, a codec lookup and a
None check; for a class of ten properties that is most of the library's own cost of an
object.  A plan does the same work with the per-class decisions made once:

* **encode**: a function generated once per class (with ``exec``, as :mod:`dataclasses`
  does for ``__init__``) that reads every property once and returns the dict literal.
  Values of properties without a codec must be JSON scalars or None (what the default
  encoder passes through unchanged); others go through their encoder, None staying
  None.  It returns None when the general loop must decide: a value that may need its
  ``sync_encode_value()``.  An absent attribute (AttributeError) is omitted, as the
  general loop does; a failing encoder raises its own error, and the caller then runs
  the general loop, which reports it as before (property getters then run twice).
* **decode**: a dict name → decoder, None for properties without a codec (identity),
  so that filling calls nothing for them.
* **as-is names**: the message keys that filling assigns unchanged or skips (properties
  without a codec, the reserved keys); a message holding only these is filled by
  plain ``setattr`` calls, after one subset test done in C.  Properties with a value
  rule (:mod:`entanglement._valuecheck`: declared ``int``/``float``/``str``/``bool``,
  length-limited strings...) are as-is names too: the set is then a
  :class:`~entanglement._valuecheck.CheckedNames` whose subset test also runs the
  class's generated type check (one call per message, none per value), and their
  decoder is the rule's checker, which refuses a mistyped value (never converts it).
* **fill of one key tuple**: for messages whose keys are exactly one tuple (in order)
  of as-is names, the as-is case of filling compiled (:func:`filler_of`): the value
  rules of those keys, then one attribute store per key, in message order; it answers
  False (assigning nothing) where the general fill must decide, so that every error
  text stays the general fill's.  A receive plan keeps the last one per class.
* **known keys**: the keys a received message of the class may hold without a closer
  look (its properties not starting with ``_``, the reserved keys).
* **aliases**: a renamed property (``aliases=``) is sent under its first alias and
  received under any of its names: the encoder writes the wire name, the decoder map
  and the as-is names hold every name (an alias is a class attribute forwarding to
  the property, see :class:`~entanglement._properties.AliasAttribute`), and
  :func:`aliases_of` maps old names back for the SQL layer.

Plans are stored in the class's own ``__dict__`` (``type.__setattr__``: SQLAlchemy's
declarative classes intercept ``setattr``), so a subclass never uses its base's plan.
Codecs resolve lazily, at the first encode or decode, exactly as
:attr:`SyncProperty.codec` does; a plan is built at that same moment.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from typing import Any, Final

from ._properties import NO_CODEC, SyncProperty
from ._valuecheck import CheckedNames, ValueRule, checked_names, rule_of
from .types import INT64_MAX, INT64_MIN, default_encoder

__all__ = [
    "RESERVED_KEYS",
    "aliases_of",
    "as_is_names_of",
    "compiled_function",
    "constructor_properties_of",
    "decoders_of",
    "encoder_of",
    "filler_of",
    "known_keys_of",
    "rules_of",
    "value_check_of",
]

RESERVED_KEYS: Final = frozenset(
    {"_sync_type", "_sync_is_error", "_sync_operation", "_sync_owner"}
)
"""The ``_`` keys a message may carry (PROTOCOL.md §3.1)."""

Encode = Callable[[Any], "dict[str, Any] | None"]
Fill = Callable[[Any, "dict[str, Any]"], bool]
Failed = Callable[[str, "dict[str, Any]", Exception], Any]

# Compiled fills kept per class: a peer choosing key tuples cannot grow it further.
FILLS_PER_CLASS: Final = 32

# Values that the default encoder returns unchanged (and that JSON encodes as they are).
_AS_IS: Final = frozenset({str, int, float, bool, type(None)})


def encoder_of(cls: type) -> Encode:
    """Return the generated encode function of ``cls`` (built at the first call)."""
    encode: Encode | None = cls.__dict__.get("_sync_encode_plan")
    if encode is None:
        encode = _compile_encoder(cls.__dict__.get("__qualname__", "?"), _props(cls))
        type.__setattr__(cls, "_sync_encode_plan", encode)
    return encode


def decoders_of(cls: type) -> dict[str, Callable[[Any], Any] | None]:
    """Return name → decoder (None: no codec) of ``cls`` (built at the first call)."""
    decoders: dict[str, Any] | None = cls.__dict__.get("_sync_decode_plan")
    if decoders is None:
        decoders = {}
        for name, prop in _props(cls).items():
            rule = rule_of(cls, name, prop)
            decoder = prop.codec.decoder
            if rule is not None:
                decoder = rule.checker  # stores the value as is, or refuses it
            for key in (name, *prop.aliases):
                decoders[key] = None if decoder is NO_CODEC.decoder else decoder
        type.__setattr__(cls, "_sync_decode_plan", decoders)
    return decoders


def as_is_names_of(cls: type) -> frozenset[str]:
    """Message keys that filling ``cls`` assigns as they are, or skips.

    The reserved keys (skipped) and the properties without a codec whose names do not
    start with ``_`` (assigned): in a message holding only these, the keys to skip are
    exactly the reserved ones.
    """
    names: frozenset[str] | None = cls.__dict__.get("_sync_as_is_plan")
    if names is None:
        rules = rules_of(cls)
        plain = RESERVED_KEYS.union(
            name for name, decoder in decoders_of(cls).items()
            if (decoder is None or name in rules) and name[:1] != "_"
        )  # fmt: skip
        if rules:
            qualname = getattr(cls, "__qualname__", "?")
            names = checked_names(qualname, plain, rules)
        else:
            names = plain
        type.__setattr__(cls, "_sync_as_is_plan", names)
    return names


def rules_of(cls: type) -> dict[str, ValueRule]:
    """Message key → the value rule of its property, for the ruled properties."""
    rules: dict[str, ValueRule] | None = cls.__dict__.get("_sync_rule_plan")
    if rules is None:
        rules = {}
        for name, prop in _props(cls).items():
            rule = rule_of(cls, name, prop)
            if rule is not None and name[:1] != "_":
                rules.update((key, rule) for key in (name, *prop.aliases))
        type.__setattr__(cls, "_sync_rule_plan", rules)
    return rules


def value_check_of(cls: type) -> Callable[[dict[str, Any]], bool] | None:
    """The generated value check of ``cls`` (None: no property has a rule)."""
    names = as_is_names_of(cls)
    return names.check if isinstance(names, CheckedNames) else None


def constructor_properties_of(cls: type) -> tuple[tuple[str, SyncProperty], ...]:
    """``(name, property)`` of the properties passed to the constructor, in order."""
    found: tuple[tuple[str, SyncProperty], ...] | None = cls.__dict__.get(
        "_sync_constructor_plan"
    )
    if found is None:
        found = tuple(
            (name, prop)
            for name, prop in _props(cls).items()
            if prop.constructor is not False
        )
        type.__setattr__(cls, "_sync_constructor_plan", found)
    return found


def known_keys_of(cls: type) -> frozenset[str]:
    """Keys a message of ``cls`` may hold without a closer look by the validator."""
    known: frozenset[str] | None = cls.__dict__.get("_sync_known_plan")
    if known is None:
        known = RESERVED_KEYS.union(n for n in decoders_of(cls) if n[:1] != "_")
        type.__setattr__(cls, "_sync_known_plan", known)
    return known


def aliases_of(cls: type) -> dict[str, str]:
    """Old wire name → property name of the renamed properties of ``cls`` (often empty)."""
    aliases: dict[str, str] | None = cls.__dict__.get("_sync_alias_plan")
    if aliases is None:
        aliases = {
            alias: name for name, prop in _props(cls).items() for alias in prop.aliases
        }
        type.__setattr__(cls, "_sync_alias_plan", aliases)
    return aliases


def filler_of(cls: type, keys: tuple[str, ...], failed: Failed) -> Fill | None:
    """The compiled as-is fill of ``cls`` for messages whose keys are ``keys``.

    ``fill(obj, msg)`` checks the value rules of ``msg``'s keys and, if they hold,
    assigns every key that is not reserved, in order, and returns True; a failed
    assignment calls ``failed(key, msg, exc)`` (which raises).  It returns False,
    having assigned nothing, when a value breaks its rule: the general fill then
    reports it.  None when a key is not an as-is name (the general fill decodes it).
    """
    fills: dict[tuple[str, ...], Fill | None] | None = cls.__dict__.get(
        "_sync_fill_plans"
    )
    if fills is None:
        fills = {}
        type.__setattr__(cls, "_sync_fill_plans", fills)
    try:
        return fills[keys]
    except KeyError:
        pass
    if len(fills) >= FILLS_PER_CLASS:
        return None  # the general fill, rather than a compile per message
    fill = None
    if frozenset.issuperset(as_is_names_of(cls), keys):
        qualname = cls.__dict__.get("__qualname__", "?")
        fill = _compile_fill(qualname, keys, rules_of(cls), failed)
    fills[keys] = fill
    return fill


def _compile_fill(
    qualname: str, keys: tuple[str, ...], rules: dict[str, ValueRule], failed: Failed
) -> Fill:
    namespace: dict[str, Any] = {"MIN": INT64_MIN, "MAX": INT64_MAX, "FAILED": failed}
    lines = ["def fill(obj, msg):"]
    stores = ["    try:"]
    for i, key in enumerate(k for k in keys if k not in RESERVED_KEYS):
        namespace[f"K{i}"] = key
        lines.append(f"    v{i} = msg[K{i}]")
        rule = rules.get(key)
        if rule is not None:
            lines += [
                f"    v = v{i}",  # (the rule's test reads ``v``)
                f"    if v is not None and not ({rule.test}):",
                "        return False",
            ]
        stores += [f"        key = K{i}", f"        {_store(key, f'K{i}', f'v{i}')}"]
    if len(stores) == 1:
        stores.append("        pass")
    lines += [
        *stores,
        "    except Exception as exc:",
        "        FAILED(key, msg, exc)",
        "    return True",
    ]
    # (tests are the value rules' fixed expressions)
    fill: Fill = compiled_function(
        lines, namespace, "fill", f"{qualname}.sync_receive_constructed plan"
    )
    return fill


def _plain(name: str) -> bool:
    # A name that is safe to splice into source as ``obj.<name>``; any other is read
    # from the namespace (its ``constant``) by getattr/setattr.
    return name.isidentifier() and not keyword.iskeyword(name)


def _read(name: str, constant: str) -> str:
    return f"obj.{name}" if _plain(name) else f"getattr(obj, {constant})"


def _store(name: str, constant: str, value: str) -> str:
    return (
        f"obj.{name} = {value}"
        if _plain(name)
        else f"setattr(obj, {constant}, {value})"
    )


def compiled_function(
    lines: list[str], namespace: dict[str, Any], name: str, qualname: str
) -> Any:
    """The function ``name`` that ``lines`` define, compiled in ``namespace``.

    Safe: the source holds only generated local names and constants; names from
    classes and messages are namespace entries or checked identifiers
    (:func:`_plain`).
    """
    exec("\n".join(lines), namespace)
    function = namespace[name]
    function.__qualname__ = qualname
    return function


def _props(cls: type) -> dict[str, SyncProperty]:
    properties: dict[str, SyncProperty] = cls._sync_properties  # type: ignore[attr-defined]
    return properties


def _compile_encoder(qualname: str, properties: dict[str, SyncProperty]) -> Encode:
    namespace: dict[str, Any] = {"AS_IS": _AS_IS, "ABSENT": _ABSENT, "getattr": getattr}
    lines = ["def encode(obj):", "    missing = False"]
    checks, items = [], []
    for i, (name, prop) in enumerate(properties.items()):
        namespace[f"N{i}"] = prop.wire_name or name  # the first alias, if any
        namespace[f"A{i}"] = name
        # try costs nothing in 3.11 while nothing is raised.
        lines += [
            "    try:",
            f"        v{i} = {_read(name, f'A{i}')}",
            "    except AttributeError:",
            f"        v{i} = ABSENT",
            "        missing = True",
        ]
        encoder = prop.codec.encoder
        if encoder is default_encoder:
            checks.append(f"(type(v{i}) not in AS_IS and v{i} is not ABSENT)")
            items.append(f"N{i}: v{i}")
        else:
            namespace[f"E{i}"] = encoder
            items.append(
                f"N{i}: v{i} if v{i} is None or v{i} is ABSENT else E{i}(v{i})"
            )
    if checks:
        lines += [f"    if {' or '.join(checks)}:", "        return None"]
    lines += [
        f"    result = {{{', '.join(items)}}}",
        "    if missing:",
        "        return {k: v for k, v in result.items() if v is not ABSENT}",
        "    return result",
    ]
    encode: Encode = compiled_function(
        lines, namespace, "encode", f"{qualname}.to_sync plan"
    )
    return encode


class _Absent:
    """Marks an attribute the object does not have (omitted from the result)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


_ABSENT: Final = _Absent()
