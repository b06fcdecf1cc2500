"""Stage 3 (continued): IR of SQL types (SQLAlchemy declarative models on ``Base``).

Joined-table inheritance: a child redeclares the key columns as foreign keys to its
parent's table; a parent with children gets the ``sync_kind`` discriminator.
"""

from __future__ import annotations

import datetime

from . import naming
from .collisions_constraints import table_constraints
from .ir import ClassAttrIR, Imports, PropertyIR, TypeIR
from .ir_refkeys_sql import (
    composite_columns,
    composite_foreign_keys,
    foreign_keys_arg,
    is_composite,
    remote_side_arg,
)
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
    for prop in spec.properties:
        if is_composite(prop):
            props += composite_columns(b, prop)
        else:
            props.append(_property(b, prop, prop.name in keys))
    navs = [_navigation(b, spec, p) for p in spec.properties if p.navigate]
    backs = [_back(b, spec, *ref) for ref in b.backs.get(spec.name, ())]
    backs += [_linked(b, spec, *link) for link in b.links.get(spec.name, ())]

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
        checking_attrs=tuple(attr for attr, _ in navs) + tuple(backs),
        navigations=tuple(code for _, code in navs) + _links(b, spec),
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
            or prop.navigate is not None  # the key or the object
        )
        param = f"{naming.attribute_name(prop.name)}: {py}" + (
            " = ..." if optional else ""
        )
        if prop.navigate is not None and prop.resolved is not None:
            cls = b.checked_sibling(prop.resolved.target, spec)
            nav_py = f"{cls} | None" if prop.nullable else cls
            params.append(f"{prop.navigate.value}: {nav_py} = ...")
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
        # In an inheritance chain each class has its own: typed alike for mypy, which
        # would take a parent's tuple of other items for an incompatible override.
        chained = spec.parent is not None or _has_children(b, spec)
        annotation = b.use("tuple[Any, ...]") if chained else ""
        attrs.append(ClassAttrIR("__table_args__", table_args, annotation))
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
    items = composite_foreign_keys(b, spec)
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


def _navigation(
    b: TypeBuilder, spec: TypeSpec, prop: PropertySpec
) -> tuple[PropertyIR, str]:
    """``team_ref: Mapped[Team]`` beside the key column ``team`` (the ORM keeps the two
    in step; only the key is synchronised), and the statement that attaches it.

    Choice: the relationship is attached by ``models/__init__.py`` once every class of
    the package exists, not in the class body: the runtime inspects each class's mapper
    as it is created, which configures every mapper of the registry, and a relationship
    to a class not yet defined (two types naming each other) would fail there.  Added
    to configured mappers, a relationship is set up at once, so the other side comes
    from ``backref`` of this one (``back_populates`` would name an attribute that does
    not exist yet)."""
    res, nav = prop.resolved, prop.navigate
    assert res is not None
    assert nav is not None
    cls = b.checked_sibling(res.target, spec)
    key = naming.attribute_name(prop.name)
    args = [
        naming.class_name(res.target),
        f"foreign_keys={foreign_keys_arg(b, spec, prop)}",
    ]
    if prop.back is not None:
        args.append(f"backref={py_literal(prop.back.value)}")
    if res.target == spec.name:  # to its own table: the key is on the remote side
        target = b.reg.type_named(res.target)
        assert target is not None
        args.append(f"remote_side={remote_side_arg(b, target, prop)}")
    py = f"{cls} | None" if prop.nullable else cls
    doc = docstring(
        f"The {res.target} that {key} holds the key of (loaded on access; assigning "
        f"it sets {key} at flush). Never sent: the key is the wire form.",
        indent=8,
    )
    return _attached(b, spec, nav.value, f"Mapped[{py}]", args, doc)


def _attached(
    b: TypeBuilder,
    spec: TypeSpec,
    attr: str,
    annotation: str,
    args: list[str],
    doc: str,
) -> tuple[PropertyIR, str]:
    code = f"{naming.class_name(spec.name)}.{attr} = relationship({', '.join(args)})"
    return _column(attr, b.use(annotation), "", doc), code


def _back(
    b: TypeBuilder, spec: TypeSpec, referrer: TypeSpec, prop: PropertySpec
) -> PropertyIR:
    """The other side of a navigation, for the type checker: the referrers of this
    object (made at run time by the navigation's ``backref``)."""
    assert prop.back is not None
    cls = b.checked_sibling(referrer.name, spec)
    doc = docstring(
        f"The {referrer.name} objects whose {prop.name} is this one.", indent=8
    )
    return _column(prop.back.value, b.use(f"Mapped[list[{cls}]]"), "", doc)


def _linked(b: TypeBuilder, spec: TypeSpec, attr: str, other: str) -> PropertyIR:
    """A many_to_many list of this type, for the type checker (attached by
    ``models/__init__.py`` with the association's navigations)."""
    cls = b.checked_sibling(other, spec)
    doc = docstring(
        f"The {other} objects linked to this one through an association type "
        "(read-only: add or delete association rows to change it).",
        indent=8,
    )
    return _column(attr, b.use(f"Mapped[list[{cls}]]"), "", doc)


def _links(b: TypeBuilder, spec: TypeSpec) -> tuple[str, ...]:
    """The two read-only many-to-many relationships an association type makes."""
    props = {p.name: p for p in spec.properties if p.name in spec.many_to_many}
    if len(props) != 2:
        return ()
    assoc = naming.class_name(spec.name)
    ends = []
    for name, prop in props.items():
        assert prop.resolved is not None
        target = b.reg.type_named(prop.resolved.target)
        assert target is not None
        key = naming.attribute_name((target.primary_key or ())[0].value)
        ends.append((name, naming.class_name(target.name), key))
    found = []
    for (this, cls, key), (other, other_cls, other_key) in (ends, ends[::-1]):
        attr = spec.many_to_many[this].value
        this_col, other_col = naming.attribute_name(this), naming.attribute_name(other)
        code = (
            f"{cls}.{attr} = relationship({other_cls}, secondary={assoc}.__table__, "
            f"primaryjoin={cls}.{key} == {assoc}.{this_col}, "
            f"secondaryjoin={other_cls}.{other_key} == {assoc}.{other_col}, "
            "viewonly=True)"
        )
        found.append(code)
    return tuple(found)


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
