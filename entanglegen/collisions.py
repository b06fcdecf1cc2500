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
* references to composite-key types: :mod:`entanglegen.collisions_refkeys`;
* table constraints: see :mod:`entanglegen.collisions_constraints`; navigation
  attributes: see :mod:`entanglegen.collisions_nav`; the runtime's own names:
  :mod:`entanglegen.collisions_runtime`.
"""

from __future__ import annotations

from . import naming
from .collisions_constraints import TypeConstraints, table_name
from .collisions_nav import NavigationRules
from .collisions_refkeys import check_composite_references
from .collisions_runtime import (
    bookkeeping_tables,
    runtime_attributes,
    runtime_wire_types,
)
from .diagnostics import Diagnostics
from .resolve_index import ancestry, effective_properties
from .spec import RegistrySpec, TypeSpec

__all__ = ["MAX_INHERITANCE", "check_collisions"]

MAX_INHERITANCE = 32


class _Collisions:
    def __init__(self, diags: Diagnostics, regs: list[RegistrySpec]) -> None:
        self.d = diags
        self.by_name = {r.registry.value: r for r in regs if r.registry.value}
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
                TypeConstraints(self.d, reg, spec, self.sql_names).run()
        NavigationRules(self.d, self.by_name).run(reg)

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
    check_composite_references(regs, diags)
