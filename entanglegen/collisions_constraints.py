"""Table constraints of SQL types: what ``__table_args__`` declares, and its rules.

:func:`table_constraints` lists the indexes and constraints of a type's table
(``unique``/``index``/``check`` of a property, ``indexes``/``unique`` of a type), as
:mod:`entanglegen.ir_sql` prints them.  :class:`TypeConstraints` checks them for one type
(run by :mod:`entanglegen.collisions`): every column must be one of the type's own table
(a joined child's table holds its own properties and the key), no json column is indexed
(PostgreSQL's json has no equality), names are unique in the project and never a table's
or a runtime index's (PostgreSQL keeps indexes in one namespace with tables).

A ``check`` expression is compiled by SQLite against the table's columns (an in-memory
database, nothing of the schema is run), so a typo in it is a located error at build time
rather than a failure at ``create_all``; that also keeps checks to SQL both databases
share.
"""

from __future__ import annotations

import difflib
import re
import sqlite3
from dataclasses import dataclass

from . import naming
from .diagnostics import Diagnostics, Loc
from .resolve_index import effective_properties, primary_key
from .spec import PropertySpec, RegistrySpec, TypeSpec

__all__ = [
    "RUNTIME_COLUMNS",
    "TableConstraint",
    "TypeConstraints",
    "sqlite_check_problem",
    "table_constraints",
    "table_name",
]

_WORDS = {"index": "index", "unique": "unique constraint", "check": "check"}
# Columns every synchronised root table has (entanglement.sql), indexed by the runtime.
RUNTIME_COLUMNS = ("sync_serial", "sync_owner_id")


@dataclass(frozen=True, slots=True)
class TableConstraint:
    """One index or constraint of a type's table, as the generated ``__table_args__``
    declares it: ``kind`` is ``index``, ``unique`` (a constraint) or ``check``."""

    kind: str
    name: str
    columns: tuple[str, ...]
    loc: Loc
    key_path: str
    unique: bool = False
    sql: str = ""
    names: tuple[str, ...] = ()
    """The property names as written (``columns`` holds their column names)."""


def table_name(spec: TypeSpec) -> str:
    return spec.table.value if spec.table else naming.snake_case(spec.name)


def table_constraints(spec: TypeSpec) -> list[TableConstraint]:
    """The indexes and constraints of ``spec``'s table, properties' before the type's."""
    table, found = table_name(spec), []
    for prop in spec.properties:
        col, kp = (naming.attribute_name(prop.name),), prop.key_path
        for kind, prefix, where in (
            ("unique", "uq", prop.unique),
            ("index", "ix", prop.index),
        ):
            if where is not None:
                name = naming.constraint_name(prefix, table, list(col))
                found.append(
                    TableConstraint(
                        kind, name, col, where.loc, f"{kp}.{kind}", names=(prop.name,)
                    )
                )
        if prop.check is not None:
            name = naming.constraint_name("ck", table, list(col))
            found.append(
                TableConstraint(
                    "check",
                    name,
                    col,
                    prop.check.loc,
                    f"{kp}.check",
                    sql=prop.check.value,
                    names=(prop.name,),
                )
            )
    for entry in spec.indexes:
        names = tuple(n.value for n in entry.properties)
        cols = tuple(naming.attribute_name(n) for n in names)
        kind = "unique" if entry.constraint else "index"
        prefix = "ix" if kind == "index" else "uq"
        name = entry.name.value if entry.name else ""
        name = name or naming.constraint_name(prefix, table, list(cols))
        found.append(
            TableConstraint(
                kind, name, cols, entry.loc, entry.key_path, entry.unique, names=names
            )
        )
    return found


class TypeConstraints:
    """The table-constraint rules of one SQL type (see the module docstring)."""

    def __init__(
        self,
        diags: Diagnostics,
        reg: RegistrySpec,
        spec: TypeSpec,
        names: dict[str, str],
    ) -> None:
        self.d, self.spec, self.names = diags, spec, names
        self.table = table_name(spec)
        root = primary_key(reg, spec)
        self.keys = [k.value for k in root.primary_key or ()]
        own = {p.name: p for p in spec.properties}
        self.inherited = {
            p.name: p for p in effective_properties(reg, spec) if p.name not in own
        }
        # A joined child's table holds its own properties and the key columns.
        self.columns: dict[str, PropertySpec] = {
            k: self.inherited[k] for k in self.keys if k in self.inherited
        }
        self.columns.update(own)

    def run(self) -> None:
        for prop in self.spec.properties:
            self.property(prop)
        for entry in table_constraints(self.spec):
            if self.columns_ok(entry):
                self.name(entry)
                if entry.kind == "check":
                    self.check(entry)

    def property(self, prop: PropertySpec) -> None:
        if (
            prop.unique is not None
            and prop.index is not None
            and self.keys != [prop.name]
        ):
            self.d.error(
                prop.index.loc,
                f"property {prop.name!r} is unique, which indexes it already",
                f"{prop.key_path}.index",
                "remove index: true",
            )
        for where, what, done in (
            (prop.unique, "unique", "unique"),
            (prop.index, "index", "indexed"),
        ):
            if where is not None and self.keys == [prop.name]:
                self.d.error(
                    where.loc,
                    f"property {prop.name!r} is the primary key, which is {done} already",
                    f"{prop.key_path}.{what}",
                    f"remove {what}: true",
                )

    def columns_ok(self, entry: TableConstraint) -> bool:
        ok = True
        for name in entry.names:
            prop = self.columns.get(name)
            if prop is None:
                ok = False
                self.unknown_column(entry, name)
            elif (
                entry.kind != "check"
                and prop.resolved
                and prop.resolved.scalar == "json"
            ):
                ok = False
                self.d.error(
                    entry.loc,
                    f"{entry.kind} {entry.name!r} includes json property {name!r}, "
                    "which databases cannot compare",
                    entry.key_path,
                    "index a scalar property instead",
                )
        return ok

    def unknown_column(self, entry: TableConstraint, name: str) -> None:
        if name in self.inherited:
            self.d.error(
                entry.loc,
                f"{entry.kind} {entry.name!r}: property {name!r} is a column of the "
                f"parent's table, not of {self.table!r}",
                entry.key_path,
                "declare the index on the type that declares the property",
            )
            return
        match = difflib.get_close_matches(name, list(self.columns), n=1, cutoff=0.6)
        self.d.error(
            entry.loc,
            f"{entry.kind} {entry.name!r}: {name!r} is not a property of "
            f"{self.spec.name!r}",
            entry.key_path,
            f"did you mean {match[0]!r}?" if match else "",
        )

    def name(self, entry: TableConstraint) -> None:
        key = entry.name.lower()
        runtime = {f"ix_{self.table}_{c}".lower() for c in RUNTIME_COLUMNS}
        if key in runtime:
            other = "an index the runtime creates"
        elif key in self.names:
            other = self.names[key]
        else:
            self.names[key] = f"the {_WORDS[entry.kind]} at {entry.key_path}"
            return
        self.d.error(
            entry.loc,
            f"{_WORDS[entry.kind]} name {entry.name!r} is already used by {other}",
            entry.key_path,
            "declare it once, or give it another name (indexes: name:)",
        )

    def check(self, entry: TableConstraint) -> None:
        problem = sqlite_check_problem(entry.sql, [*self.columns, *self.keys])
        if problem:
            self.d.error(
                entry.loc,
                f"check of property {entry.names[0]!r} is not valid SQL here: {problem}",
                entry.key_path,
                f"columns of {self.table!r}: {', '.join(sorted(self.column_names()))}",
            )

    def column_names(self) -> set[str]:
        return {naming.attribute_name(n) for n in self.columns}


def _one_expression(sql: str) -> bool:
    """No ``;``, comment or unbalanced parenthesis outside quotes: ``CHECK (sql)``
    stays one expression in every database's DDL."""
    depth, quote, i = 0, "", 0
    while i < len(sql):
        ch = sql[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == ";" or sql.startswith(("--", "/*"), i):
            return False
        elif ch in "()":
            depth += 1 if ch == "(" else -1
            if depth < 0:
                return False
        i += 1
    return depth == 0 and not quote


def sqlite_check_problem(sql: str, columns: list[str]) -> str:
    """SQLite's complaint about ``CHECK (sql)`` on a table of ``columns``, or ''."""
    if not _one_expression(sql):
        return "it must be one expression (balanced parentheses, no ';' or comments)"
    cols = sorted({naming.attribute_name(c) for c in columns} | set(RUNTIME_COLUMNS))
    ddl = ", ".join(f'"{c}"' for c in cols)
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute(f"CREATE TABLE t ({ddl}, CHECK ({sql}))")
    except (sqlite3.Error, ValueError) as exc:
        return str(exc)
    finally:
        connection.close()
    return _unquoted_capitals(sql, cols)


_QUOTED_OR_WORD = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|([A-Za-z_][A-Za-z0-9_]*)")


def _unquoted_capitals(sql: str, columns: list[str]) -> str:
    """PostgreSQL folds unquoted names to lower case, SQLite ignores case: a column with
    capitals named without quotes passes SQLite and fails PostgreSQL's CREATE TABLE."""
    capitals = {c.lower(): c for c in columns if c != c.lower()}
    for match in _QUOTED_OR_WORD.finditer(sql):
        word = match[1]
        if word and word.lower() in capitals:
            column = capitals[word.lower()]
            return (
                f'column {column!r} has capitals: write it quoted, "{column}" '
                "(PostgreSQL folds unquoted names to lower case)"
            )
    return ""
