"""Stage 3 (continued): SQL columns of references to composite-key types.

``seat: Seat`` (``Seat`` keyed by ``hall`` and ``number``) becomes, on the referencing
model, one column per part (``seat_hall``, ``seat_number``: ``no_sync_property``, the
wire never sees them), the synchronised ``seat: Mapped[SeatKey]`` as a ``composite()``
over them, and inside one registry a named ``ForeignKeyConstraint`` over the columns in
``__table_args__``.  Navigation (``navigate``/``back``) passes the columns as the
relationship's ``foreign_keys`` (see :mod:`entanglegen.ir_sql`).
"""

from __future__ import annotations

from . import naming
from .ir import PropertyIR
from .ir_types import TypeBuilder, table_name
from .literals import docstring, py_literal
from .resolve_index import type_named
from .resolve_keys import KeyPart, is_composite, part_columns
from .spec import PropertySpec, TypeSpec

__all__ = [
    "composite_columns",
    "composite_foreign_keys",
    "foreign_keys_arg",
    "is_composite",
    "remote_side_arg",
]


def parts_of(b: TypeBuilder, prop: PropertySpec) -> list[KeyPart]:
    return part_columns(b.by_name, prop)


def composite_columns(b: TypeBuilder, prop: PropertySpec) -> list[PropertyIR]:
    """The part columns of composite reference ``prop`` and its composite property."""
    res = prop.resolved
    assert res is not None
    kind = b.kind(prop)
    attr = naming.attribute_name(prop.name)
    found = []
    b.imports.add("from entanglement.interface import no_sync_property")
    for part in parts_of(b, prop):
        column = b.scalar_kind(part.scalar, part.length)
        py = column.py if not prop.nullable else f"{column.py} | None"
        code = b.use(
            f"no_sync_property(mapped_column({column.sa}, nullable={prop.nullable}))"
        )
        doc = docstring(
            f"Part {part.name} of the {res.target} key that {attr} holds "
            f"(never sent: {attr} is)."
        )
        found.append(_column(part.column, b.use(f"Mapped[{py}]"), code, doc))
    names = ", ".join(py_literal(p.column) for p in parts_of(b, prop))
    b.imports.add("from entanglement.interface import sync_property")
    b.imports.add("from sqlalchemy.orm import composite")
    b.imports.add("from entanglement import refkeys as _refkeys")
    code = (
        f"sync_property(composite({kind.py}, {names}, "
        f"return_none_on=_refkeys.any_none), encoder={kind.encoder}, "
        f"decoder={kind.decoder}{_aliases(b, prop)})"
    )
    py = f"{kind.py} | None" if prop.nullable else kind.py
    found.append(_column(attr, b.use(f"Mapped[{py}]"), code, b.prop_doc(prop)))
    return found


def _aliases(b: TypeBuilder, prop: PropertySpec) -> str:
    aliases = b.aliases(prop)
    return f", {aliases}" if aliases else ""


def composite_foreign_keys(b: TypeBuilder, spec: TypeSpec) -> list[str]:
    """``sa.ForeignKeyConstraint(...)`` of each composite reference inside the
    registry (a reference across registries has no table to point at)."""
    items = []
    for prop in spec.properties:
        res = prop.resolved
        if (
            not is_composite(prop)
            or res is None
            or res.registry != b.reg.registry.value
        ):
            continue
        target = type_named(b.reg, res.target)
        assert target is not None
        parts = parts_of(b, prop)
        local = ", ".join(py_literal(p.column) for p in parts)
        remote = ", ".join(py_literal(f"{table_name(target)}.{p.name}") for p in parts)
        name = naming.constraint_name(
            "fk", table_name(spec), [naming.attribute_name(prop.name)]
        )
        items.append(
            f"sa.ForeignKeyConstraint([{local}], [{remote}], name={py_literal(name)})"
        )
    return items


def foreign_keys_arg(b: TypeBuilder, spec: TypeSpec, prop: PropertySpec) -> str:
    """The relationship's ``foreign_keys``: the key column, or the part columns."""
    cls = naming.class_name(spec.name)
    if not is_composite(prop):
        return py_literal(f"{cls}.{naming.attribute_name(prop.name)}")
    columns = ", ".join(f"{cls}.{p.column}" for p in parts_of(b, prop))
    return py_literal(f"[{columns}]")


def remote_side_arg(b: TypeBuilder, target: TypeSpec, prop: PropertySpec) -> str:
    """``remote_side`` of a reference to its own type: the target's key column(s)."""
    cls = naming.class_name(target.name)
    if not is_composite(prop):
        key = naming.attribute_name((target.primary_key or ())[0].value)
        return py_literal(f"{cls}.{key}")
    columns = ", ".join(f"{cls}.{p.name}" for p in parts_of(b, prop))
    return py_literal(f"[{columns}]")


def _column(attr: str, annotation: str, code: str, doc: str) -> PropertyIR:
    return PropertyIR(
        attr, annotation, code, doc, init_param="", init_assign="", sync=True
    )
