"""Identifier sanitising: every name that reaches generated code passes through here.

* :func:`class_name` turns a schema type or enum name into ``CamelCase``;
* :func:`attribute_name` turns a property name into a safe attribute (the attribute name is
  also the wire name, so the schema layer warns whenever it differs from the schema name);
* :func:`member_name` turns an enum value into an ``UPPER_CASE`` member name;
* :func:`module_alias` names an imported user hook (``a.b.c`` → ``_a_b_c``).

Rules: characters outside ``[A-Za-z0-9_]`` become ``_``; a leading digit gets a prefix;
Python keywords, builtins and the names the generated modules themselves use get a ``_``
suffix, so a schema can never shadow something the generated code relies on.
"""

from __future__ import annotations

import builtins
import hashlib
import keyword
import re

__all__ = [
    "GENERATED_NAMES",
    "MAX_NAME",
    "attribute_name",
    "class_name",
    "constraint_name",
    "is_identifier",
    "is_keyword",
    "is_module_path",
    "member_name",
    "module_alias",
    "snake_case",
]

_INVALID = re.compile(r"[^0-9A-Za-z_]")
# fullmatch, never match + "$": "$" also matches before a trailing newline.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A name becomes a file name (``<name>.py``, at most 255 bytes on common file systems)
# and a SQL identifier (63 bytes on PostgreSQL); this bound leaves room for both.
MAX_NAME = 60

# Names the generated modules define or import at module level or in class bodies.  A
# schema name equal to one of these would shadow it, so it gets the ``_`` suffix.
GENERATED_NAMES = frozenset(
    {
        "annotations",
        "Any",
        "Base",
        "DeclarativeBase",
        "GUID",
        "Mapped",
        "SqlSyncRegistry",
        "SqlSynchronizable",
        "StoreInSyncStoreMixin",
        "Synchronizable",
        "SyncStoreRegistry",
        "Unique",
        "copy",
        "datetime",
        "enum",
        "mapped_column",
        "new_registry",
        "metadata",
        "no_sync_property",
        "registry",
        "sa",
        "self",
        "support",
        "sync_property",
        "typing",
        "uuid",
    }
)
_RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | GENERATED_NAMES
_BUILTINS = frozenset(dir(builtins))
# The builtins generated class bodies and ``__init__`` methods refer to: an attribute or
# parameter with one of these names would shadow it.  Other builtins (``id``, ``type``)
# stay usable as property names.
_BODY_BUILTINS = frozenset({"bool", "bytes", "float", "int", "object", "str", "super"})


def is_identifier(text: str) -> bool:
    """An ASCII Python identifier, the whole string (no trailing newline)."""
    return _IDENTIFIER.fullmatch(text) is not None


def is_keyword(text: str) -> bool:
    return keyword.iskeyword(text)


def is_module_path(text: str) -> bool:
    """``a.b.c``: two or more identifiers that are not keywords (an importable path)."""
    parts = text.split(".")
    return len(parts) >= 2 and all(
        is_identifier(p) and not keyword.iskeyword(p) for p in parts
    )


def _clean(text: str) -> str:
    text = _INVALID.sub("_", text)
    if not text:
        return "_"
    if text[0].isdigit():
        text = "_" + text
    return text


def _suffix_reserved(name: str, builtin_names: frozenset[str]) -> str:
    while name in _RESERVED or name in builtin_names:
        name += "_"
    return name


def snake_case(text: str) -> str:
    """``HelpRequest`` → ``help_request`` (used for default table names)."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    return re.sub(r"_+", "_", _clean(text).lower()).strip("_") or "t"


def class_name(text: str) -> str:
    """A schema type/enum name as a CamelCase class name."""
    words = [w for w in re.split(r"[^0-9A-Za-z]+", text) if w]
    name = "".join(w[0].upper() + w[1:] for w in words) or "Type"
    if name[0].isdigit():
        name = "T" + name
    return _suffix_reserved(name, _BUILTINS)


def attribute_name(text: str) -> str:
    """A schema property name as an attribute name (also its wire name)."""
    return _suffix_reserved(_clean(text), _BODY_BUILTINS)


def member_name(text: str) -> str:
    """An enum value as an UPPER_CASE member name (never sunder/dunder)."""
    name = _clean(text).upper().strip("_") or "EMPTY"
    if name[0].isdigit():
        name = "V_" + name
    return name


def module_alias(dotted: str) -> str:
    """The local alias under which a user hook ``pkg.mod.fn`` is imported."""
    return "_" + _clean(dotted.replace(".", "_"))


# PostgreSQL's identifier limit (bytes; generated names are ASCII).
MAX_SQL_NAME = 63


def constraint_name(prefix: str, table: str, columns: list[str]) -> str:
    """``<prefix>_<table>_<columns>``, shortened with a digest past 63 characters.

    Explicit names, never SQLAlchemy's conventions: PostgreSQL refuses (or silently
    truncates) longer identifiers, and migrations need names that stay put.
    """
    name = "_".join([prefix, table, *columns])
    if len(name) <= MAX_SQL_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: MAX_SQL_NAME - 9]}_{digest}"
