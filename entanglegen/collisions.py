"""Stage 2b (continued): names a valid-looking schema would make collide in the output.

Run by :mod:`entanglegen.resolve` once types are resolved.  Each rule is a located error
with a hint; without it the package would generate and then fail at import or at run time:

* two hook paths with one import alias (``a.b_c`` and ``a_b.c`` both import as
  ``_a_b_c``: one hook would silently replace the other);
* a property whose attribute is a public attribute of the runtime base classes
  (``to_sync``...).  The set is read from the runtime classes themselves, so it follows the
  runtime;
* a type whose wire name is one of the runtime's own SQL meta types (``SyncOwner``...:
  read from the runtime's meta registry), or whose class is the generated registry class;
* a table named like a runtime bookkeeping table (read from the bookkeeping metadata, plus
  Alembic's default version table, which the generated migrations use), and tables or
  columns whose names differ only in case (they are one name on SQLite and on case-folding
  databases);
* a joined-inheritance child that references one of its ancestors (two foreign keys to
  one table: SQLAlchemy cannot tell the join from the reference);
* an inheritance chain deeper than :data:`MAX_INHERITANCE` (every class repeats its
  inherited properties, so output grows with the square of the depth);
* table constraints (:func:`table_constraints`: ``unique``/``index``/``check`` of a
  property, ``indexes``/``unique`` of a type): every column must be one of the type's own
  table (a joined child's table holds its own properties and the key), no json column is
  indexed (PostgreSQL's json has no equality), names are unique in the project and never a
  table's or a runtime index's (PostgreSQL keeps indexes in one namespace with tables).
  A ``check`` expression is compiled by SQLite against the table's columns (an in-memory
  database, nothing of the schema is run), so a typo in it is a located error at build
  time rather than a failure at ``create_all``; that also keeps checks to SQL both
  databases share.
"""

from __future__ import annotations

import difflib
import re
import sqlite3
from dataclasses import dataclass
from functools import cache

from . import naming
from .diagnostics import Diagnostics, Loc
from .resolve_index import ancestry, effective_properties, primary_key, type_named
from .spec import Located, PropertySpec, RegistrySpec, TypeSpec

__all__ = [
    "MAX_INHERITANCE",
    "TableConstraint",
    "check_collisions",
    "table_constraints",
]

MAX_INHERITANCE = 32
# Alembic's default version table; the generated migrations keep the default.
_ALEMBIC_VERSION_TABLE = "alembic_version"
_WORDS = {"index": "index", "unique": "unique constraint", "check": "check"}
# Columns every synchronised root table has (entanglement.sql), indexed by the runtime.
_RUNTIME_COLUMNS = ("sync_serial", "sync_owner_id")


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


@cache
def runtime_attributes(storage: str) -> dict[str, str]:
    """Public attribute name -> the runtime class that defines it, for one storage."""
    classes: list[type] = []
    try:
        if storage == "sql":
            from entanglement.sql.base import SqlSynchronizable

            classes.append(SqlSynchronizable)
        else:
            from entanglement.interface import Synchronizable
            from entanglement.memory import StoreInSyncStoreMixin

            classes += [Synchronizable, StoreInSyncStoreMixin]
    except ImportError:  # no runtime installed: nothing to compare with
        return {}
    names: dict[str, str] = {}
    for cls in classes:
        for name in dir(cls):
            if not name.startswith("_"):
                names.setdefault(name, cls.__name__)
    return names


@cache
def runtime_wire_types() -> frozenset[str]:
    """The sync_type names the runtime's SQL meta registry already uses."""
    try:
        from entanglement.sql.meta import sql_meta_registry
    except ImportError:
        return frozenset()
    return frozenset(sql_meta_registry.registry)


@cache
def bookkeeping_tables() -> frozenset[str]:
    """Tables the runtime keeps beside the application's, lower-cased."""
    try:
        from entanglement.sql.tables import bookkeeping_metadata
    except ImportError:
        return frozenset({_ALEMBIC_VERSION_TABLE})
    return frozenset(
        {name.lower() for name in bookkeeping_metadata.tables}
        | {_ALEMBIC_VERSION_TABLE}
    )


class _Collisions:
    def __init__(self, diags: Diagnostics, regs: list[RegistrySpec]) -> None:
        self.d = diags
        # Index and constraint names of the project (lower-cased) -> what declares each;
        # table names are there first, as PostgreSQL's relations share one namespace.
        self.sql_names: dict[str, str] = {
            table_name(t).lower(): f"the table of {t.name!r}"
            for r in regs
            for t in r.types
            if t.storage == "sql"
        }

    def registry(self, reg: RegistrySpec) -> None:
        self.hooks(reg)
        registry_class = naming.class_name(reg.registry.value) + "Registry"
        tables: dict[str, str] = {}
        for spec in reg.types:
            depth = len(ancestry(reg, spec))
            if depth == MAX_INHERITANCE + 1 and spec.parent is not None:
                self.d.error(
                    spec.parent.loc,
                    f"type {spec.name!r} is {depth} levels deep in its inheritance "
                    f"chain; the limit is {MAX_INHERITANCE}",
                    f"{spec.key_path}.parent",
                    "flatten the hierarchy",
                )
            self.type_names(spec, registry_class)
            self.properties(reg, spec)
            if spec.storage == "sql":
                self.table(spec, tables)
                self.columns(reg, spec)
                self.joined_reference(reg, spec)
                _Constraints(self.d, reg, spec, self.sql_names).run()
        self.navigation(reg)

    def hooks(self, reg: RegistrySpec) -> None:
        located = [*reg.policy.values()]
        located += [op.handler for op in reg.operations or () if op.handler]
        for spec in reg.types:
            for prop in spec.properties:
                located += [h for h in (prop.encoder, prop.decoder) if h is not None]
            located += [
                h for h in (spec.table_args, spec.on_receive, spec.on_delete) if h
            ]
        seen: dict[str, str] = {}
        for hook in located:
            alias = naming.module_alias(hook.value)
            first = seen.setdefault(alias, hook.value)
            if first != hook.value:
                self.d.error(
                    hook.loc,
                    f"hooks {first!r} and {hook.value!r} are both imported as {alias}",
                    "",
                    "move one of the functions, or import it through another module",
                )

    def type_names(self, spec: TypeSpec, registry_class: str) -> None:
        if naming.class_name(spec.name) == registry_class:
            self.d.error(
                spec.loc,
                f"type {spec.name!r} has the name of the generated registry class",
                spec.key_path,
                "rename the type",
            )
        if spec.sync_type in runtime_wire_types():
            self.d.error(
                spec.loc,
                f"type {spec.name!r} has the wire name {spec.sync_type!r} of a "
                "runtime meta type",
                spec.key_path,
                "rename the type, or give it another sync_type",
            )

    def properties(self, reg: RegistrySpec, spec: TypeSpec) -> None:
        reserved = runtime_attributes(spec.storage)
        for prop in spec.properties:
            attr = naming.attribute_name(prop.name)
            if attr in reserved:
                self.d.error(
                    prop.loc,
                    f"property {prop.name!r} has the name of an attribute of the "
                    f"runtime class {reserved[attr]}",
                    prop.key_path,
                    "rename the property",
                )

    def table(self, spec: TypeSpec, tables: dict[str, str]) -> None:
        name = spec.table.value if spec.table else naming.snake_case(spec.name)
        loc = spec.table.loc if spec.table else spec.loc
        kp = f"{spec.key_path}.table"
        if name.lower() in bookkeeping_tables():
            self.d.error(
                loc,
                f"table {name!r} of type {spec.name!r} is a runtime bookkeeping table",
                kp,
                "give the type another table: name",
            )
        other = tables.setdefault(name.lower(), name)
        if other != name:
            self.d.error(
                loc,
                f"table {name!r} of type {spec.name!r} differs from table {other!r} "
                "only in case",
                kp,
                "databases such as SQLite treat them as one table",
            )

    def columns(self, reg: RegistrySpec, spec: TypeSpec) -> None:
        seen: dict[str, str] = {}
        for prop in effective_properties(reg, spec):
            attr = naming.attribute_name(prop.name)
            other = seen.setdefault(attr.lower(), attr)
            if other != attr and prop in spec.properties:
                self.d.error(
                    prop.loc,
                    f"column {attr!r} differs from column {other!r} only in case",
                    prop.key_path,
                    "databases such as SQLite treat them as one column",
                )

    def navigation(self, reg: RegistrySpec) -> None:
        """``navigate``/``back`` of references: where they apply, and free names."""
        taken: dict[int, dict[str, str]] = {}  # id(TypeSpec) -> attribute -> what

        def names_of(spec: TypeSpec) -> dict[str, str]:
            if id(spec) not in taken:
                taken[id(spec)] = {
                    naming.attribute_name(p.name): f"property {p.name!r}"
                    for p in effective_properties(reg, spec)
                }
            return taken[id(spec)]

        for spec in reg.types:
            for ref, attr in spec.many_to_many.items():
                other = self.link_target(reg, spec, ref)
                if other is not None:
                    kp = f"{spec.key_path}.many_to_many.{ref}"
                    self.nav_name(other, attr, names_of(other), kp)
            for prop in spec.properties:
                target = self.nav_target(reg, prop)
                if target is None:
                    continue
                assert prop.navigate is not None
                kp = prop.key_path
                self.nav_name(spec, prop.navigate, names_of(spec), f"{kp}.navigate")
                if prop.back is not None:
                    self.nav_name(target, prop.back, names_of(target), f"{kp}.back")

    def link_target(
        self, reg: RegistrySpec, spec: TypeSpec, ref: str
    ) -> TypeSpec | None:
        """The type a ``many_to_many`` entry's reference names, or None (an error)."""
        prop = next((p for p in spec.properties if p.name == ref), None)
        res = prop.resolved if prop is not None else None
        if res is not None and res.kind == "ref" and res.registry == reg.registry.value:
            return type_named(reg, res.target)
        self.d.error(
            spec.many_to_many_loc or spec.loc,
            f"many_to_many: {ref!r} is not a reference of {spec.name!r} to a type of "
            "this registry",
            f"{spec.key_path}.many_to_many",
            "name the association's two reference properties",
        )
        return None

    def nav_target(self, reg: RegistrySpec, prop: PropertySpec) -> TypeSpec | None:
        res, where = prop.resolved, prop.navigate or prop.back
        if where is None or res is None:
            return None
        kp = f"{prop.key_path}.{'navigate' if prop.navigate else 'back'}"
        if prop.navigate is None:
            self.d.error(where.loc, "back needs navigate beside it", kp)
        elif res.kind != "ref":
            self.d.error(where.loc, "navigate applies to references only", kp)
        elif res.registry != reg.registry.value:
            self.d.error(
                where.loc,
                f"navigate needs a type of this registry; {res.registry}.{res.target} "
                "lives in other tables' metadata",
                kp,
                "keep the bare key for references across registries",
            )
        else:
            return type_named(reg, res.target)
        return None

    def nav_name(
        self, owner: TypeSpec, name: Located, names: dict[str, str], kp: str
    ) -> None:
        attr, reserved = name.value, runtime_attributes("sql")
        what = "many_to_many list" if ".many_to_many." in kp else kp.rpartition(".")[2]
        if naming.attribute_name(attr) != attr or attr.startswith("sync_"):
            other = "a reserved name"
        elif attr in reserved:
            other = f"the name of an attribute of the runtime class {reserved[attr]}"
        else:
            other = names.get(attr, "")
        if other:
            self.d.error(
                name.loc,
                f"{what} {attr!r} of {owner.name!r} cannot be used: it is {other}",
                kp,
                "choose another attribute name",
            )
        names.setdefault(attr, f"the {what} attribute {attr!r}")

    def joined_reference(self, reg: RegistrySpec, spec: TypeSpec) -> None:
        ancestors = {t.name for t in ancestry(reg, spec)[1:]}
        for prop in spec.properties:
            res = prop.resolved
            if (
                res is not None
                and res.kind == "ref"
                and res.registry == reg.registry.value
                and res.target in ancestors
            ):
                self.d.error(
                    prop.type.loc,
                    f"property {prop.name!r} of {spec.name!r} references its ancestor "
                    f"{res.target!r}; with joined-table inheritance the two foreign "
                    "keys to one table are ambiguous",
                    f"{prop.key_path}.type",
                    "reference another type, or store the key as a plain value",
                )


def check_collisions(regs: list[RegistrySpec], diags: Diagnostics) -> None:
    """Report the collisions of every registry (in place, into ``diags``)."""
    checker = _Collisions(diags, regs)
    for reg in regs:
        checker.registry(reg)


class _Constraints:
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
        runtime = {f"ix_{self.table}_{c}".lower() for c in _RUNTIME_COLUMNS}
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
    cols = sorted({naming.attribute_name(c) for c in columns} | set(_RUNTIME_COLUMNS))
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
