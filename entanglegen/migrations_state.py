"""The schema state of a generated SQL package: its tables as a migration sees them.

A package's ``migrations/schema_state.json`` holds the state its last revision leads to;
``entanglegen migrations new`` compares it with the state of the current schema.  The
state is computed from the validated, resolved schema with the same rules as the SQL
model IR (:mod:`entanglegen.ir_sql`): table names, column (attribute) names, joined-table
child keys, the ``sync_kind`` discriminator of parents, nullability and foreign keys
inside one registry.  Column types are written as the SQLAlchemy code a revision uses,
in storage terms rather than Python types, so a revision never imports the generated
package: a uuid is ``sa.String(length=32)`` (what ``GUID`` stores), an enum is a
``sa.String`` as long as its longest value (``native_enum=False``, no CHECK constraint).

Root tables end with the two columns every synchronised row has
(``sync_serial``, ``sync_owner_id`` referencing ``sync_owners`` with ON DELETE CASCADE),
each with the index SQLAlchemy names ``ix_<table>_<column>``.

Defaults are kept because a revision needs them to fill a NOT NULL column it adds to a
table that has rows: ``{"literal": v}`` (JSON value; an enum's value), ``{"date": iso}``
or ``{"special": "random" | "now" | "today"}``.  A discriminator column added when a type
gets its first child is filled with the parent's own ``sync_type``: every existing row
is of the parent type.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from . import naming
from .ir_types import table_name
from .resolve import ancestry, effective_properties, primary_key
from .resolve_keys import is_composite, part_columns
from .spec import MISSING, PropertySpec, RegistrySpec, TypeSpec

__all__ = [
    "FORMAT",
    "State",
    "dump_state",
    "load_state",
    "registry_state",
    "same_tables",
]

FORMAT = 1
State = dict[str, Any]
"""``{"format", "package", "revision", "types": {type name: {"table", "columns"}}}``."""

_SQL = {
    "str": "sa.String({length})",
    "int": "sa.Integer()",
    "float": "sa.Float()",
    "bool": "sa.Boolean()",
    "bytes": "sa.LargeBinary({length})",
    "uuid": "sa.String(length=32)",
    "datetime": "sa.DateTime(timezone=True)",
    "date": "sa.Date()",
    "json": "sa.JSON()",
}
_SPECIAL = {"uuid": "random", "datetime": "now", "date": "today"}
DISCRIMINATOR = "sync_kind"


def sql_type(kind: str, length: int | None) -> str:
    """The SQLAlchemy type expression a revision writes for a column."""
    return _SQL[kind].format(length=f"length={length}" if length else "")


def registry_state(
    reg: RegistrySpec, project: list[RegistrySpec], revision: str
) -> State:
    """The state of the SQL tables of ``reg`` (parents before children)."""
    types: dict[str, Any] = {}
    for spec in _ordered(reg):
        types[spec.name] = {
            "table": table_name(spec),
            "columns": _columns(reg, project, spec),
        }
    return {
        "format": FORMAT,
        "package": reg.package.value,
        "revision": revision,
        "types": types,
    }


def _ordered(reg: RegistrySpec) -> list[TypeSpec]:
    ordered: list[TypeSpec] = []
    for spec in reg.types:
        for ancestor in reversed(ancestry(reg, spec)):
            if ancestor not in ordered:
                ordered.append(ancestor)
    return ordered


def _columns(
    reg: RegistrySpec, project: list[RegistrySpec], spec: TypeSpec
) -> list[dict[str, Any]]:
    keys = [k.value for k in primary_key(reg, spec).primary_key or ()]
    columns: list[dict[str, Any]] = []
    if spec.parent is not None:
        parent = reg.type_named(spec.parent.value)
        assert parent is not None  # resolved schemas only
        inherited = {p.name: p for p in effective_properties(reg, parent)}
        for key in keys:
            column = _column(reg, project, inherited[key], is_key=True)
            column["foreign_key"] = f"{table_name(parent)}.{column['name']}"
            column["default"] = None  # the parent row's key, never generated here
            columns.append(column)
    elif any(t.parent is not None and t.parent.value == spec.name for t in reg.types):
        columns.append(_plain(DISCRIMINATOR, "str", 128, {"literal": spec.sync_type}))
    for prop in spec.properties:
        if is_composite(prop):  # one column per part of the target's key
            columns += _part_columns(project, prop)
        else:
            columns.append(_column(reg, project, prop, prop.name in keys))
    if spec.parent is None:
        columns += _bookkeeping()
    return columns


def _part_columns(
    project: list[RegistrySpec], prop: PropertySpec
) -> list[dict[str, Any]]:
    """The columns of a reference to a composite-key type (``seat_hall``...).

    Their foreign key is one constraint over all of them (``fk_<table>_<property>``,
    declared by the model's ``__table_args__``), which this state format has no entry
    for: a revision creates the columns without it.
    """
    by_name = {r.registry.value: r for r in project}
    columns = []
    for part in part_columns(by_name, prop):
        column = _plain(part.column, part.scalar, part.length, None)
        column["nullable"] = prop.nullable
        columns.append(column)
    return columns


def _bookkeeping() -> list[dict[str, Any]]:
    """The columns ``SqlSynchronizable`` adds to every root table (both indexed)."""
    serial = _plain("sync_serial", "int", None, None)
    owner = _plain("sync_owner_id", "uuid", None, None)
    owner.update(nullable=True, foreign_key="sync_owners.id", ondelete="CASCADE")
    serial["index"] = owner["index"] = True
    return [serial, owner]


def _plain(
    name: str, kind: str, length: int | None, default: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "name": name,
        "type": sql_type(kind, length),
        "kind": kind,
        "nullable": False,
        "primary_key": False,
        "foreign_key": None,
        "ondelete": None,
        "index": False,
        "default": default,
    }


def _column(
    reg: RegistrySpec, project: list[RegistrySpec], prop: PropertySpec, is_key: bool
) -> dict[str, Any]:
    res = prop.resolved
    assert res is not None  # resolved schemas only
    kind, length, foreign_key = res.scalar, prop.length, None
    if res.kind == "enum":
        kind, length = "str", _enum_length(project, res.registry, res.target)
    elif res.kind == "ref":
        other = next(r for r in project if r.registry.value == res.registry)
        target = other.type_named(res.target)
        assert target is not None
        key = (primary_key(other, target).primary_key or ())[0].value
        key_prop = next(p for p in effective_properties(other, target) if p.name == key)
        length = key_prop.length
        if other is reg:
            foreign_key = f"{table_name(target)}.{naming.attribute_name(key)}"
    return {
        "name": naming.attribute_name(prop.name),
        "type": sql_type(kind, length),
        "kind": kind,
        "nullable": bool(prop.nullable) and not is_key,
        "primary_key": is_key,
        "foreign_key": foreign_key,
        "ondelete": None,
        "index": False,
        "default": _default(prop.default, kind),
    }


def _enum_length(project: list[RegistrySpec], registry: str, name: str) -> int:
    reg = next(r for r in project if r.registry.value == registry)
    enum = reg.enum_named(name)
    return max(len(v) for v in enum.values) if enum else 1


def _default(value: object, kind: str) -> dict[str, Any] | None:
    if value is MISSING or value is None:
        return None
    if isinstance(value, str) and _SPECIAL.get(kind) == value:
        return {"special": value}
    if isinstance(value, datetime.date):
        return {"date": value.isoformat()}
    return {"literal": value}


def same_tables(a: State, b: State) -> bool:
    """True when two states describe the same tables (revisions aside)."""
    return bool(a.get("types") == b.get("types"))


def dump_state(state: State) -> bytes:
    """The committed form: indented JSON in the state's own (deterministic) order."""
    return (json.dumps(state, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def load_state(data: bytes) -> State:
    """Parse a committed state.

    Raises:
        ValueError: the file is not a schema state of this format.
    """
    state = json.loads(data.decode("utf-8"))
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"not a schema state of format {FORMAT}")
    if not isinstance(state.get("types"), dict) or not isinstance(
        state.get("revision"), str
    ):
        raise ValueError("a schema state needs 'revision' and 'types'")
    return state
