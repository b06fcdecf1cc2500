"""The difference between two schema states, as the operations of one revision.

Order of the upgrade: renamed tables, new tables (referenced ones first), then per
surviving table renamed, added, altered and dropped columns, then dropped tables
(referencing ones first).  ``downgrade`` is the inverse of each step in reverse order.

Renames come only from ``renamed_from`` in the new schema (a type's names its old type,
a property's its old property): a column or table that disappears while another appears
is a drop and an add, never a guessed rename.  A ``renamed_from`` whose old name is not in
the committed state (the rename was migrated by an earlier revision) is ignored.

Indexes and constraints (``constraints`` of a table) are matched by name: one dropped
or changed is dropped before the column steps of its table, one added or changed is
created after them.  A server default that changes is one ``alter_column``.

Changes a revision cannot make safely by itself are reported as notes for the reviewer
and left out: a changed primary key, a changed foreign key target, and a required column
without default added to (or made NOT NULL on) a table that may have rows (that step is
written, but fails on a table with rows or NULLs, which the note says).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import naming
from .migrations_constraints import AddConstraint, DropConstraint
from .migrations_ops import (
    AddColumn,
    AlterColumn,
    Column,
    Constraint,
    CreateTable,
    DropColumn,
    DropTable,
    Op,
    RenameColumn,
    RenameTable,
)
from .migrations_state import State
from .spec import RegistrySpec

__all__ = ["Diff", "Renames", "diff_states", "renames_of"]

Table = dict[str, Any]
"""One type's entry of a state: ``{"table": name, "columns": [column, ...]}``."""


@dataclass
class Renames:
    """``types``: new type name → old; ``columns``: (new type, new column) → old column."""

    types: dict[str, str] = field(default_factory=dict)
    columns: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass
class Diff:
    ops: list[Op] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def renames_of(reg: RegistrySpec) -> Renames:
    """The renames a schema declares with ``renamed_from``."""
    found = Renames()
    for spec in reg.types:
        if spec.renamed_from is not None:
            found.types[spec.name] = spec.renamed_from.value
        for prop in spec.properties:
            if prop.renamed_from is not None:
                key = (spec.name, naming.attribute_name(prop.name))
                found.columns[key] = naming.attribute_name(prop.renamed_from.value)
    return found


def _keys(columns: list[Column]) -> list[Column]:
    return [c for c in columns if c["primary_key"]]


def _by_fk_order(types: dict[str, Table], names: list[str]) -> list[str]:
    """``names`` ordered so that a table comes after the tables its keys reference."""
    table_of = {name: str(types[name]["table"]) for name in names}
    pending, ordered = list(names), list[str]()
    while pending:
        placed = {table_of[n] for n in ordered}
        wanted = set(table_of.values()) - placed
        for name in pending:
            columns: list[Column] = types[name]["columns"]
            needs = {
                str(c["foreign_key"]).rpartition(".")[0]
                for c in columns
                if c["foreign_key"]
            }
            if not (needs - {table_of[name]}) & wanted:
                break
        else:
            name = pending[0]  # a cycle: keep the schema's order
        pending.remove(name)
        ordered.append(name)
    return ordered


def diff_states(old: State | None, new: State, renames: Renames) -> Diff:
    """The revision that takes a database from ``old`` (None: empty) to ``new``."""
    diff = Diff()
    old_types = dict(old["types"]) if old else {}
    new_types = new["types"]
    matched: dict[str, str] = {}  # new type name -> old type name
    for name in new_types:
        source = renames.types.get(name)
        if name in old_types:
            matched[name] = name
        elif source is not None and source in old_types and source not in new_types:
            matched[name] = source
    table_renames: dict[str, str] = {}
    for name, source in matched.items():
        before, after = old_types[source]["table"], new_types[name]["table"]
        if before != after:
            table_renames[before] = after
            indexed = [c for c in old_types[source]["columns"] if c["index"]]
            diff.ops.append(RenameTable(before, after, indexed))
    created = _by_fk_order(new_types, [n for n in new_types if n not in matched])
    diff.ops += [_create(new_types[n]) for n in created]
    for name, source in matched.items():
        old_table, new_table = old_types[source], new_types[name]
        dropped, added = _constraint_changes(old_table, new_table)
        diff.ops += [DropConstraint(new_table["table"], c) for c in dropped]
        _columns(diff, name, old_table, new_table, renames, table_renames)
        diff.ops += [AddConstraint(new_table["table"], c) for c in added]
    gone = [n for n in old_types if n not in matched.values()]
    for name in reversed(_by_fk_order(old_types, gone)):
        table = old_types[name]
        diff.ops.append(
            DropTable(table["table"], table["columns"], table.get("constraints", []))
        )
    return diff


def _create(table: Table) -> CreateTable:
    return CreateTable(table["table"], table["columns"], table.get("constraints", []))


def _constraint_changes(
    old_table: Table, new_table: Table
) -> tuple[list[Constraint], list[Constraint]]:
    """(dropped, added) constraints of a surviving table; a changed one is both.

    Dropped ones go before the column steps (a column leaving must not be in one),
    added ones after them (a column arriving may be).
    """
    old = {c["name"]: c for c in old_table.get("constraints", [])}
    new = {c["name"]: c for c in new_table.get("constraints", [])}
    dropped = [c for name, c in old.items() if new.get(name) != c]
    added = [c for name, c in new.items() if old.get(name) != c]
    # Indexes outside the table's batch block, so that on SQLite the block copies the
    # table once for its columns and constraints together.
    dropped.sort(key=lambda c: c["kind"] != "index")
    added.sort(key=lambda c: c["kind"] == "index")
    return dropped, added


def _columns(
    diff: Diff,
    type_name: str,
    old_table: Table,
    new_table: Table,
    renames: Renames,
    table_renames: dict[str, str],
) -> None:
    table = str(new_table["table"])
    old_cols: dict[str, Column] = {c["name"]: c for c in old_table["columns"]}
    new_cols: dict[str, Column] = {c["name"]: c for c in new_table["columns"]}
    keys = _keys(list(new_cols.values()))
    seen: set[str] = set()
    for name, column in new_cols.items():
        source = renames.columns.get((type_name, name))
        if name in old_cols:
            before = old_cols[name]
        elif source in old_cols and source not in new_cols:
            before = old_cols[source]
            diff.ops.append(RenameColumn(table, before, name))
        else:
            if column["primary_key"]:
                diff.notes.append(
                    f"{table}.{name} joins the primary key: not migrated by this "
                    "revision (write that step by hand)"
                )
                continue
            diff.ops.append(AddColumn(table, column, keys))
            if not column["nullable"] and column["default"] is None:
                diff.notes.append(
                    f"{table}.{name} is required and has no default: the revision "
                    "fails on a table that has rows (give it a default, or fill it "
                    "in the revision)"
                )
            continue
        seen.add(before["name"])
        _alter(diff, table, before, column, keys, table_renames)
    for name, column in old_cols.items():
        if name in seen:
            continue
        if column["primary_key"]:
            diff.notes.append(
                f"{table}.{name} leaves the primary key: not migrated by this "
                "revision (write that step by hand)"
            )
            continue
        diff.ops.append(DropColumn(table, column, _keys(list(old_cols.values()))))


def _alter(
    diff: Diff,
    table: str,
    before: Column,
    after: Column,
    keys: list[Column],
    table_renames: dict[str, str],
) -> None:
    name = after["name"]
    if before["primary_key"] != after["primary_key"]:
        diff.notes.append(
            f"{table}.{name}: the primary key changed; not migrated by this revision "
            "(write that step by hand)"
        )
        return
    old_fk = before["foreign_key"]
    if old_fk:
        target, _, col = str(old_fk).rpartition(".")
        old_fk = f"{table_renames.get(target, target)}.{col}"
    if old_fk != after["foreign_key"]:
        diff.notes.append(
            f"{table}.{name}: the foreign key changed from {old_fk} to "
            f"{after['foreign_key']}; not migrated by this revision (write that step "
            "by hand)"
        )
    before = {**before, "name": name}
    if any(
        before.get(k) != after.get(k) for k in ("type", "nullable", "server_default")
    ):
        diff.ops.append(AlterColumn(table, before, after, keys))
        if before["nullable"] and not after["nullable"] and after["default"] is None:
            diff.notes.append(
                f"{table}.{name} becomes required and has no default: the revision "
                "fails where it holds NULL"
            )
