"""Stage 3 (continued): IR of in-memory types (``StoreInSyncStoreMixin, Synchronizable``)."""

from __future__ import annotations

from . import naming
from .ir import ClassAttrIR, Imports, PropertyIR, TypeIR
from .ir_types import Kind, TypeBuilder
from .literals import docstring, py_literal
from .resolve import ancestry, effective_properties
from .spec import PropertySpec, TypeSpec

__all__ = ["memory_type"]


def memory_type(b: TypeBuilder, spec: TypeSpec) -> TypeIR:
    chain = ancestry(b.reg, spec)
    root = chain[-1]
    keys = {k.value for k in root.primary_key or ()}
    attrs = _class_attrs(b, spec, root)
    inherited = effective_properties(b.reg, spec)[: -len(spec.properties) or None]
    # Inherited properties only appear as __init__ parameters here: build them with a
    # scratch import set and keep just the imports their parameters need.
    scratch = TypeBuilder(
        b.reg, b.by_name.values(), Imports(), b.modules, b.parent_names
    )
    parent_props = [_property(scratch, p, p.name in keys) for p in inherited]
    for prop in parent_props:
        b.imports.take(scratch.imports, prop.init_param)
    own_props = [_property(b, p, p.name in keys) for p in spec.properties]
    props = parent_props + own_props
    doc = spec.doc or f"The {spec.name} type (in memory)."
    return TypeIR(
        template=TypeIR.MEMORY,
        class_name=naming.class_name(spec.name),
        bases=_transition_mixin(b, chain)
        + (b.sibling(spec.parent.value) if spec.parent else _root_bases(b)),
        docstring=docstring(doc),
        class_attrs=tuple(attrs),
        properties=tuple(own_props),
        init_params=tuple(p.init_param for p in props),
        super_args=", ".join(f"{p.attr}={p.attr}" for p in parent_props),
        init_assigns=tuple(p.init_assign for p in own_props),
    )


def _transition_mixin(b: TypeBuilder, chain: list[TypeSpec]) -> str:
    # the first type of a chain that asks for transitions carries the mixin
    if not chain[0].transitions or any(t.transitions for t in chain[1:]):
        return ""
    b.imports.add("from entanglement.transition import TransitionTrackerMixin")
    return "TransitionTrackerMixin, "


def _root_bases(b: TypeBuilder) -> str:
    b.imports.add("from entanglement.interface import Synchronizable")
    b.imports.add("from entanglement.memory import StoreInSyncStoreMixin")
    return "StoreInSyncStoreMixin, Synchronizable"


def _class_attrs(b: TypeBuilder, spec: TypeSpec, root: TypeSpec) -> list[ClassAttrIR]:
    attrs = []
    if spec.parent is None:
        b.imports.add("from ..registry import registry")
        attrs.append(ClassAttrIR("sync_registry", "registry"))
    attrs.append(ClassAttrIR("sync_type", py_literal(spec.sync_type)))
    if spec.parent is None and root.unique:
        b.imports.add("from entanglement.interface import Unique")
        attrs.append(ClassAttrIR("sync_primary_keys", "Unique"))
    elif spec.parent is None:
        names = tuple(naming.attribute_name(k.value) for k in root.primary_key or ())
        attrs.append(ClassAttrIR("sync_primary_keys", repr(names)))
    else:
        attrs.append(ClassAttrIR("sync_store_with", b.sibling(root.name)))
    if spec.priority is not None:
        attrs.append(ClassAttrIR("sync_priority", str(spec.priority)))
    return attrs


def _property(b: TypeBuilder, prop: PropertySpec, is_key: bool) -> PropertyIR:
    kind = b.kind(prop)
    attr = naming.attribute_name(prop.name)
    annotation = (
        kind.py if kind.py == "Any" or not prop.nullable else f"{kind.py} | None"
    )
    default = b.default(prop, kind)
    required = not default.literal and not default.factory
    if default.factory:
        optional = kind.py if kind.py == "Any" else f"{kind.py} | None"
        param = f"{attr}: {optional} = None"
        assign = f"self.{attr} = {b.use(default.call)} if {attr} is None else {attr}"
    else:
        param = f"{attr}: {annotation}" + (
            f" = {default.literal}" if default.literal else ""
        )
        assign = f"self.{attr} = {attr}"
    return PropertyIR(
        attr=attr,
        annotation=b.use(annotation),
        value_code=_declaration(b, prop, kind, constructor=required or is_key),
        docstring=b.prop_doc(prop),
        init_param=param,
        init_assign=assign,
        sync=prop.sync,
    )


def _declaration(
    b: TypeBuilder, prop: PropertySpec, kind: Kind, *, constructor: bool
) -> str:
    if not prop.sync:
        return ""
    b.imports.add("from entanglement.interface import sync_property")
    args = ["constructor=True"] if constructor else []
    if kind.encoder:
        args.append(f"encoder={kind.encoder}")
    if kind.decoder:
        args.append(f"decoder={kind.decoder}")
    if aliases := b.aliases(prop):
        args.append(aliases)
    return b.use(f"sync_property({', '.join(args)})")
