"""Stage 3 (continued): IR of SQL types (SQLAlchemy declarative models on ``Base``).

Joined-table inheritance: a child redeclares the key columns as foreign keys to its
parent's table; a parent with children gets the ``sync_kind`` discriminator.
"""

from __future__ import annotations

import datetime

from . import naming
from .collisions import table_constraints
from .ir import ClassAttrIR, Imports, PropertyIR, TypeIR
from .ir_types import Kind, TypeBuilder, table_name
from .literals import docstring, py_literal
from .resolve import ancestry, effective_properties
from .spec import MISSING, PropertySpec, TypeSpec

__all__ = ["sql_type"]

_DISCRIMINATOR = "sync_kind"


def sql_type(b: TypeBuilder, spec: TypeSpec) -> TypeIR:
    chain = ancestry(b.reg, spec)
    root = chain[-1]
    keys = [k.value for k in root.primary_key or ()]
    props: list[PropertyIR] = []
    if spec.parent is not None:
        parent = b.reg.type_named(spec.parent.value)
        assert parent is not None
        inherited = {p.name: p for p in effective_properties(b.reg, parent)}
        props += [_child_key(b, inherited[k], table_name(parent)) for k in keys]
    elif _has_children(b, spec):
        props.append(_discriminator(b))
    props += [_property(b, p, p.name in keys) for p in spec.properties]
    doc = spec.doc or f"The {spec.name} type (table {table_name(spec)})."
    return TypeIR(
        template=TypeIR.SQL,
        class_name=naming.class_name(spec.name),
        bases=_transition_mixin(b, chain)
        + (b.sibling(spec.parent.value) if spec.parent else _base(b)),
        docstring=docstring(doc),
        class_attrs=tuple(_class_attrs(b, spec)),
        properties=tuple(props),
        init_params=_init_params(b, spec, keys),
        super_args="",
        init_assigns=(),
    )


def _init_params(b: TypeBuilder, spec: TypeSpec, keys: list[str]) -> tuple[str, ...]:
    """The keyword-only parameters of the typed ``__init__``: every column of the class
    (inherited ones too), required unless nullable or defaulted."""
    own = {id(p) for p in spec.properties}
    # Inherited properties only appear here: their imports come from a scratch set.
    scratch = TypeBuilder(
        b.reg, b.by_name.values(), Imports(), b.modules, b.parent_names
    )
    params = []
    for prop in effective_properties(b.reg, spec):
        builder = b if id(prop) in own else scratch
        kind = builder.kind(prop)
        py = kind.py if kind.py == "Any" or not prop.nullable else f"{kind.py} | None"
        optional = (
            prop.nullable
            or prop.default is not MISSING
            or prop.server_default is not MISSING
        )
        param = f"{naming.attribute_name(prop.name)}: {py}" + (
            " = ..." if optional else ""
        )
        builder.use(param)
        if builder is scratch:
            b.imports.take(scratch.imports, param)
        params.append(param)
    if params:
        b.imports.add("from typing import TYPE_CHECKING")
    return tuple(params)


def _transition_mixin(b: TypeBuilder, chain: list[TypeSpec]) -> str:
    # the first type of a chain that asks for transitions carries the mixin
    if not chain[0].transitions or any(t.transitions for t in chain[1:]):
        return ""
    b.imports.add("from entanglement.sql.transition import SqlTransitionTrackerMixin")
    return "SqlTransitionTrackerMixin, "


def _base(b: TypeBuilder) -> str:
    b.imports.add("from ._base import Base")
    return "Base"


def _has_children(b: TypeBuilder, spec: TypeSpec) -> bool:
    return spec.name in b.parent_names


def _class_attrs(b: TypeBuilder, spec: TypeSpec) -> list[ClassAttrIR]:
    attrs = [
        ClassAttrIR("__tablename__", py_literal(table_name(spec))),
        ClassAttrIR("sync_type", py_literal(spec.sync_type)),
    ]
    if spec.priority is not None:
        attrs.append(ClassAttrIR("sync_priority", str(spec.priority)))
    if spec.unknown_properties != "refuse":
        # Read from the class's own __dict__ by the runtime: every type says it itself.
        attrs.append(
            ClassAttrIR("sync_unknown_properties", py_literal(spec.unknown_properties))
        )
    if table_args := _table_args(b, spec):
        attrs.append(ClassAttrIR("__table_args__", table_args))
    mapper = {}
    if spec.parent is not None or _has_children(b, spec):
        mapper["polymorphic_identity"] = spec.sync_type
    if spec.parent is None and _has_children(b, spec):
        mapper["polymorphic_on"] = _DISCRIMINATOR
    if mapper:
        attrs.append(ClassAttrIR("__mapper_args__", py_literal(mapper)))
    return attrs


def _table_args(b: TypeBuilder, spec: TypeSpec) -> str:
    """``(sa.Index(...), ..., *hook())``, or '' when the table has none."""
    items = []
    for c in table_constraints(spec):
        name = f"name={py_literal(c.name)}"
        columns = ", ".join(py_literal(col) for col in c.columns)
        if c.kind == "check":
            items.append(f"sa.CheckConstraint({py_literal(c.sql)}, {name})")
        elif c.kind == "unique":
            items.append(f"sa.UniqueConstraint({columns}, {name})")
        else:
            unique = ", unique=True" if c.unique else ""
            items.append(f"sa.Index({py_literal(c.name)}, {columns}{unique})")
    if spec.table_args is not None:
        # Last: a trailing dict of Table keyword arguments in the hook's tuple stays last.
        items.append(f"*{b.hook(spec.table_args.value)}()")
    return b.use(f"({', '.join(items)},)") if items else ""


def _server_default(prop: PropertySpec) -> str:
    # One text form per value, which SQLAlchemy quotes as a literal: PostgreSQL and
    # SQLite both read '5' into an integer column and '2026-01-02' into a date.
    value = prop.server_default
    if isinstance(value, bool):
        return "sa.true()" if value else "sa.false()"
    if prop.resolved is not None and prop.resolved.scalar == "datetime":
        return "sa.func.current_timestamp()"  # validated: the value is 'now'

    text = value.isoformat() if isinstance(value, datetime.date) else str(value)
    return py_literal(text)


def _discriminator(b: TypeBuilder) -> PropertyIR:
    b.imports.add("from entanglement.interface import no_sync_property")
    code = b.use("no_sync_property(mapped_column(sa.String(128), nullable=False))")
    doc = docstring(
        "Which type a row is (joined-table inheritance); never synchronised."
    )
    return _column(_DISCRIMINATOR, b.use("Mapped[str]"), code, doc)


def _child_key(b: TypeBuilder, prop: PropertySpec, parent_table: str) -> PropertyIR:
    kind = b.kind(prop)
    attr = naming.attribute_name(prop.name)
    fk = py_literal(f"{parent_table}.{attr}")
    code = b.use(f"mapped_column({kind.sa}, sa.ForeignKey({fk}), primary_key=True)")
    doc = docstring(f"Key shared with the parent row ({parent_table}.{attr}).")
    return _column(attr, b.use(f"Mapped[{kind.py}]"), _wrap(b, prop, kind, code), doc)


def _property(b: TypeBuilder, prop: PropertySpec, is_key: bool) -> PropertyIR:
    kind = b.kind(prop)
    args = [kind.sa]
    if kind.foreign_key:
        args.append(f"sa.ForeignKey({kind.foreign_key})")
    if is_key:
        args.append("primary_key=True")
    else:
        args.append(f"nullable={prop.nullable}")
    default = b.default(prop, kind)
    if default.factory or (default.literal and default.literal != "None"):
        args.append(f"default={default.factory or default.literal}")
    if prop.onupdate is not None:
        args.append("onupdate=_support.utcnow")
    if prop.server_default is not MISSING:
        args.append(f"server_default={_server_default(prop)}")
    code = b.use(f"mapped_column({', '.join(args)})")
    py = kind.py if kind.py == "Any" or not prop.nullable else f"{kind.py} | None"
    annotation = b.use(f"Mapped[{py}]")
    return _column(
        naming.attribute_name(prop.name),
        annotation,
        _wrap(b, prop, kind, code),
        b.prop_doc(prop),
    )


def _wrap(b: TypeBuilder, prop: PropertySpec, kind: Kind, code: str) -> str:
    if not prop.sync:
        b.imports.add("from entanglement.interface import no_sync_property")
        return f"no_sync_property({code})"
    aliases = b.aliases(prop)
    if not (kind.encoder or kind.decoder or aliases):
        return code
    b.imports.add("from entanglement.interface import sync_property")
    args = [code]
    if kind.encoder:
        args.append(f"encoder={kind.encoder}")
    if kind.decoder:
        args.append(f"decoder={kind.decoder}")
    if aliases:
        args.append(aliases)
    return b.use(f"sync_property({', '.join(args)})")


def _column(attr: str, annotation: str, code: str, doc: str) -> PropertyIR:
    return PropertyIR(
        attr, annotation, code, doc, init_param="", init_assign="", sync=True
    )
