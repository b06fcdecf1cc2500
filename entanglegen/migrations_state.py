"""The schema state of a generated SQL package: its tables as a migration sees them.

A package's ``migrations/schema_state.json`` holds the state its last revision leads to;
``entanglegen migrations new`` compares it with the state of the current schema.  The
state is computed from the validated, resolved schema with the same rules as the SQL
model IR (:mod:`entanglegen.ir_sql`): table names, column (attribute) names, joined-table
child keys, the ``sync_kind`` discriminator of parents, nullability and foreign keys
inside one registry.  Column types are written as the SQLAlchemy code a revision uses,
in storage terms rather than Python types, so a revision never imports the generated
package: a uuid is ``sa.String(length=32)`` (what ``GUID`` stores), an enum is a
``sa.String`` as long as its longest value (``native_enum=False``, no CHECK constraint),
a decimal is ``sa.Numeric(precision, scale)`` with the SQLite variant ``ExactDecimal``
stores there (a REAL up to 15 digits, text of ``precision + 2`` characters beyond).

Each table also lists what the schema's table options put in the database
(``constraints``, format 2): indexes (property ``index``, type ``indexes``), unique
constraints (property ``unique``, type ``unique``), CHECK constraints and the named
foreign keys of references to composite-key types, with the names the models declare;
each column has its ``server_default`` as the code the model passes to SQLAlchemy.
``onupdate`` is applied by SQLAlchemy when it writes a row: it has no DDL and no entry.
A format-1 state (written before constraints were tracked) still loads: it reads as
having no constraints and no server defaults, so the next revision creates the ones the
schema declares (a database whose revisions were edited by hand to add them already
needs its state rewritten at format 2).

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
from .collisions_constraints import table_constraints
from .ir_types import table_name
from .literals import py_literal
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

FORMAT = 2
State = dict[str, Any]
"""``{"format", "package", "revision", "types": {type name: {"table", "columns",
"constraints"}}}``."""

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
# ExactDecimal (entanglement.sql) stores this many digits as a REAL on SQLite.
_DOUBLE_DIGITS = 15
_SPECIAL = {"uuid": "random", "datetime": "now", "date": "today"}
DISCRIMINATOR = "sync_kind"


def sql_type(kind: str, length: int | None) -> str:
    """The SQLAlchemy type expression a revision writes for a column."""
    return _SQL[kind].format(length=f"length={length}" if length else "")


def decimal_type(precision: int, scale: int) -> str:
    """The type a revision writes for an ``ExactDecimal(precision, scale)`` column."""
    sqlite = (
        "sa.Float()"
        if precision <= _DOUBLE_DIGITS
        else f"sa.String(length={precision + 2})"
    )
    return (
        f"sa.Numeric(precision={precision}, scale={scale})"
        f'.with_variant({sqlite}, "sqlite")'
    )


def registry_state(
    reg: RegistrySpec, project: list[RegistrySpec], revision: str
) -> State:
    """The state of the SQL tables of ``reg`` (parents before children)."""
    types: dict[str, Any] = {}
    for spec in _ordered(reg):
        types[spec.name] = {
            "table": table_name(spec),
            "columns": _columns(reg, project, spec),
            "constraints": table_constraints_state(reg, project, spec),
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
    declared by the model's ``__table_args__``): an entry of the table's constraints.
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
        "server_default": None,
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
    if kind == "decimal":
        type_ = decimal_type(prop.precision or 1, prop.scale or 0)
    else:
        type_ = sql_type(kind, length)
    return {
        "name": naming.attribute_name(prop.name),
        "type": type_,
        "kind": kind,
        "nullable": bool(prop.nullable) and not is_key,
        "primary_key": is_key,
        "foreign_key": foreign_key,
        "ondelete": None,
        "index": False,
        "default": _default(prop.default, kind),
        "server_default": server_default_code(prop),
    }


def server_default_code(prop: PropertySpec) -> str | None:
    """The ``server_default=`` code of ``prop``'s column, as the model writes it.

    The same forms as :mod:`entanglegen.ir_sql`: ``sa.true()``/``sa.false()``,
    ``sa.func.current_timestamp()`` for ``now``, else the value's text, which SQLAlchemy
    quotes as a literal (both databases read ``'5'`` into an integer column).
    """
    value = prop.server_default
    if value is MISSING:
        return None
    if isinstance(value, bool):
        return "sa.true()" if value else "sa.false()"
    if prop.resolved is not None and prop.resolved.scalar == "datetime":
        return "sa.func.current_timestamp()"
    text = value.isoformat() if isinstance(value, datetime.date) else str(value)
    return py_literal(text)


def table_constraints_state(
    reg: RegistrySpec, project: list[RegistrySpec], spec: TypeSpec
) -> list[dict[str, Any]]:
    """The named indexes and constraints of ``spec``'s table, as its model declares
    them (``__table_args__``): composite foreign keys first, then the table options."""
    found = [
        _constraint("foreign_key", name, cols, target=target, remote=remote)
        for name, cols, target, remote in _composite_foreign_keys(reg, project, spec)
    ]
    for c in table_constraints(spec):
        found.append(_constraint(c.kind, c.name, c.columns, unique=c.unique, sql=c.sql))
    return found


def _constraint(
    kind: str,
    name: str,
    columns: tuple[str, ...] | list[str],
    *,
    unique: bool = False,
    sql: str = "",
    target: str | None = None,
    remote: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "name": name,
        "columns": list(columns),
        "unique": unique,
        "sql": sql or None,
        "target": target,
        "target_columns": remote,
    }


def _composite_foreign_keys(
    reg: RegistrySpec, project: list[RegistrySpec], spec: TypeSpec
) -> list[tuple[str, list[str], str, list[str]]]:
    """(name, columns, target table, target columns) of each composite reference of
    ``spec`` inside its registry (one across registries has no table to point at)."""
    by_name = {r.registry.value: r for r in project}
    found = []
    for prop in spec.properties:
        res = prop.resolved
        if not is_composite(prop) or res is None or res.registry != reg.registry.value:
            continue
        target = reg.type_named(res.target)
        assert target is not None  # resolved schemas only
        parts = part_columns(by_name, prop)
        name = naming.constraint_name(
            "fk", table_name(spec), [naming.attribute_name(prop.name)]
        )
        found.append(
            (
                name,
                [p.column for p in parts],
                table_name(target),
                [p.name for p in parts],
            )
        )
    return found


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
    """Parse a committed state (format 2, or format 1 read as format 2).

    Raises:
        ValueError: the file is not a schema state of a known format.
    """
    try:
        state = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a schema state: {exc}") from None
    if not isinstance(state, dict) or state.get("format") not in (1, FORMAT):
        raise ValueError(f"not a schema state of format 1 or {FORMAT}")
    types = state.get("types")
    if not isinstance(types, dict) or not isinstance(state.get("revision"), str):
        raise ValueError("a schema state needs 'revision' and 'types'")
    if state["format"] == 1:
        _from_format_1(types)
        state["format"] = FORMAT
    return state


def _from_format_1(types: dict[str, Any]) -> None:
    """Format 1 had no constraints and no server defaults: read them as none."""
    for table in types.values():
        if not isinstance(table, dict) or not isinstance(table.get("columns"), list):
            raise ValueError("a table of a schema state needs 'columns'")
        table.setdefault("constraints", [])
        for column in table["columns"]:
            if isinstance(column, dict):
                column.setdefault("server_default", None)
