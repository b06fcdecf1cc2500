"""Collision rules of references to composite-key types (see :mod:`entanglegen.ir_refkeys`).

Run by :mod:`entanglegen.collisions` once types are resolved.  Each is a located error:

* SQL: a part column (``<property>_<part>``: ``seat_hall``) that is already a column of
  the type (an own or inherited property, another reference's part, a runtime column),
  equal names ignoring case included (one name on SQLite and case-folding databases), or
  longer than PostgreSQL's identifiers allow (it would be cut silently);
* the generated key class (``SeatKey``) named like a class the target's package already
  has (a type or an enum), or a key part named like a method of tuple (``index``,
  ``count``: the key class is a ``NamedTuple``);
* ``many_to_many`` over a composite reference (the read-only lists join on one column
  per side), and ``unique``/``index``/``check`` or type ``indexes``/``unique`` naming one
  (they name one column; ``table_args`` can name the part columns).
"""

from __future__ import annotations

from . import naming
from .collisions_constraints import RUNTIME_COLUMNS
from .diagnostics import Diagnostics
from .resolve_index import effective_properties
from .resolve_keys import is_composite, key_names, part_columns
from .spec import PropertySpec, RegistrySpec, TypeSpec

__all__ = ["check_composite_references", "part_column_names"]

_RESERVED_COLUMNS = (*RUNTIME_COLUMNS, "sync_kind")
# A key class is a NamedTuple: fields must not hide tuple's own methods.
_TUPLE_METHODS = frozenset({"count", "index"})


def part_column_names(
    by_name: dict[str, RegistrySpec], prop: PropertySpec
) -> list[str]:
    """The part columns of ``prop`` if it is a composite reference, else none."""
    return [p.column for p in part_columns(by_name, prop)] if is_composite(prop) else []


def check_composite_references(regs: list[RegistrySpec], diags: Diagnostics) -> None:
    """Report the rules of the module docstring for every registry of the project."""
    by_name = {r.registry.value: r for r in regs if r.registry.value}
    named: set[tuple[str, str]] = set()  # key classes reported at their first reference
    for reg in regs:
        for spec in reg.types:
            if spec.storage == "sql":
                _columns(diags, by_name, reg, spec)
                _constraints(diags, spec)
            for prop in spec.properties:
                res = prop.resolved
                target = (res.registry, res.target) if res is not None else None
                if target is not None and is_composite(prop) and target not in named:
                    named.add(target)
                    _key_class(diags, by_name, prop)
            for ref in spec.many_to_many:
                link = next((p for p in spec.properties if p.name == ref), None)
                if link is not None and is_composite(link):
                    diags.error(
                        spec.many_to_many_loc or spec.loc,
                        f"many_to_many: {ref!r} references a type whose key has "
                        "several parts; the lists need single-column keys",
                        f"{spec.key_path}.many_to_many",
                        "navigate the association's references instead",
                    )


def _constraints(diags: Diagnostics, spec: TypeSpec) -> None:
    # unique/index/check name one column; a composite reference has one per part
    refs = {p.name for p in spec.properties if is_composite(p)}
    for prop in spec.properties:
        if prop.name not in refs:
            continue
        for what, where in (
            ("unique", prop.unique),
            ("index", prop.index),
            ("check", prop.check),
        ):
            if where is not None:
                diags.error(
                    where.loc,
                    f"{what} of reference {prop.name!r}: its key has several columns",
                    f"{prop.key_path}.{what}",
                    "name the part columns in the type's table_args instead",
                )
    for entry in spec.indexes:
        for name in entry.properties:
            if name.value in refs:
                diags.error(
                    name.loc,
                    f"reference {name.value!r} has one column per key part, which "
                    "indexes and unique constraints cannot name yet",
                    entry.key_path,
                    "name the part columns in the type's table_args instead",
                )


def _key_class(
    diags: Diagnostics, by_name: dict[str, RegistrySpec], prop: PropertySpec
) -> None:
    res = prop.resolved
    assert res is not None
    target_reg = by_name[res.registry]
    cls = key_names(res.target)[0]
    taken = {naming.class_name(t.name): "type" for t in target_reg.types}
    taken.update({naming.class_name(e.name): "enum" for e in target_reg.enums})
    if cls in taken:
        diags.error(
            prop.type.loc,
            f"the key class {cls} of {res.target!r} would have the name of the "
            f"{taken[cls]} {cls} of registry {res.registry!r}",
            f"{prop.key_path}.type",
            f"rename the {taken[cls]}",
        )
    for part in part_columns(by_name, prop):
        if part.name in _TUPLE_METHODS:
            diags.error(
                prop.type.loc,
                f"key part {part.name!r} of {res.target!r} would hide the tuple method "
                f"{part.name}() of its key class {cls}",
                f"{prop.key_path}.type",
                "rename the key property of the referenced type",
            )


def _columns(
    diags: Diagnostics,
    by_name: dict[str, RegistrySpec],
    reg: RegistrySpec,
    spec: TypeSpec,
) -> None:
    taken: dict[str, str] = {c: "a runtime column" for c in _RESERVED_COLUMNS}
    for prop in effective_properties(reg, spec):
        if not is_composite(prop):
            attr = naming.attribute_name(prop.name)
            taken.setdefault(attr.lower(), f"the column of property {prop.name!r}")
    for prop in effective_properties(reg, spec):
        for column in part_column_names(by_name, prop):
            where = f"the column {column!r} of reference {prop.name!r}"
            other = taken.setdefault(column.lower(), where)
            if prop not in spec.properties:
                continue  # reported where the reference is declared
            if other != where:
                diags.error(
                    prop.loc,
                    f"reference {prop.name!r} needs a column {column!r}, which is "
                    f"already {other}",
                    prop.key_path,
                    "rename the property or the other column",
                )
            elif len(column) > naming.MAX_SQL_NAME:
                diags.error(
                    prop.loc,
                    f"reference {prop.name!r} needs a column {column!r} of "
                    f"{len(column)} characters; the limit is {naming.MAX_SQL_NAME}",
                    prop.key_path,
                    "shorten the property name",
                )
