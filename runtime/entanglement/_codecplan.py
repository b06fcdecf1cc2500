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
from .types import default_encoder

__all__ = [
    "RESERVED_KEYS",
    "aliases_of",
    "as_is_names_of",
    "constructor_properties_of",
    "decoders_of",
    "encoder_of",
    "known_keys_of",
    "rules_of",
    "value_check_of",
]

RESERVED_KEYS: Final = frozenset(
    {"_sync_type", "_sync_is_error", "_sync_operation", "_sync_owner"}
)
"""The ``_`` keys a message may carry (PROTOCOL.md §3.1)."""

Encode = Callable[[Any], "dict[str, Any] | None"]

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
        if name.isidentifier() and not keyword.iskeyword(name):
            read = f"obj.{name}"
        else:
            read = f"getattr(obj, A{i})"
        # try costs nothing in 3.11 while nothing is raised.
        lines += [
            "    try:",
            f"        v{i} = {read}",
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
    # Safe: the source holds only generated local names; property names are read
    # from the namespace (N0, N1, ...) or as attributes checked to be identifiers.
    exec("\n".join(lines), namespace)
    encode: Encode = namespace["encode"]
    encode.__qualname__ = f"{qualname}.to_sync plan"
    return encode


class _Absent:
    """Marks an attribute the object does not have (omitted from the result)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


_ABSENT: Final = _Absent()
