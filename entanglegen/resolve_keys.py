"""Primary keys, and what a reference to a type stores: its key, one part or several.

A reference stores the referenced object's key.  A target is referenceable when its key
is one or more synchronised properties of type uuid, int or str (a root type's own
``primary_key``, inherited by children):

* one part: the reference is that scalar (``Resolved.scalar`` is ``uuid``, ``int`` or
  ``str``), one column, as before;
* several parts (issue 13, "references to types with composite keys"):
  ``Resolved.scalar`` is :data:`COMPOSITE` and :func:`key_parts` gives the parts in key
  order.  The wire form is a JSON array of the parts' own wire forms in that order (the
  values the target's own messages carry under its key names), in memory a tuple, in SQL
  one column per part and one foreign key constraint over them.

Still refused, with the reason as a hint: a ``unique`` key (instances have no key to
store), a key part that is itself a reference (its column's type would depend on another
table being defined first), or of any other type (enum, bytes, date...).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import naming
from .diagnostics import Diagnostics
from .resolve_index import effective_properties, primary_key, type_named
from .schema import did_you_mean
from .spec import PropertySpec, RegistrySpec, Resolved, TypeSpec

__all__ = [
    "COMPOSITE",
    "KEY_SCALARS",
    "KeyPart",
    "check_keys",
    "is_composite",
    "key_names",
    "key_parts",
    "part_columns",
    "reference_hint",
    "target_parts",
]

KEY_SCALARS = ("uuid", "int", "str")
COMPOSITE = "composite"
"""``Resolved.scalar`` of a reference to a type whose key has several parts."""


def key_parts(reg: RegistrySpec, target: TypeSpec) -> list[PropertySpec] | None:
    """The key properties a reference to ``target`` stores, in key order, or None when
    ``target`` cannot be referenced (see the module docstring)."""
    root = primary_key(reg, target)
    if root.unique or not root.primary_key:
        return None
    props = {p.name: p for p in effective_properties(reg, target)}
    parts = [props.get(k.value) for k in root.primary_key]
    found = [p for p in parts if p is not None and p.type.value in KEY_SCALARS]
    return found if len(found) == len(parts) else None


@dataclass(frozen=True, slots=True)
class KeyPart:
    """One part of a composite reference: the target's key property and its column."""

    name: str
    """The part's attribute on the target (``hall``)."""
    column: str
    """The referencing table's column (``seat_hall``)."""
    scalar: str
    length: int | None


def is_composite(prop: PropertySpec) -> bool:
    """True for a reference to a type whose key has several parts."""
    res = prop.resolved
    return res is not None and res.kind == "ref" and res.scalar == COMPOSITE


def key_names(target: str) -> tuple[str, str, str]:
    """(class, encoder, decoder) names of the key of type ``target``."""
    cls = naming.class_name(target) + "Key"
    snake = naming.snake_case(naming.class_name(target))
    return cls, f"encode_{snake}_key", f"decode_{snake}_key"


def target_parts(reg: RegistrySpec, target: TypeSpec) -> list[PropertySpec]:
    parts = key_parts(reg, target)
    assert parts is not None
    assert len(parts) > 1
    return parts


def part_columns(by_name: dict[str, RegistrySpec], prop: PropertySpec) -> list[KeyPart]:
    """The columns of composite reference ``prop``, in the target's key order."""
    res = prop.resolved
    assert res is not None
    assert res.scalar == COMPOSITE
    reg = by_name[res.registry]
    target = type_named(reg, res.target)
    assert target is not None
    base = naming.attribute_name(prop.name)
    return [
        KeyPart(
            naming.attribute_name(p.name),
            naming.attribute_name(f"{base}_{p.name}"),
            p.type.value,
            p.length,
        )
        for p in target_parts(reg, target)
    ]


def key_scalar(reg: RegistrySpec, target: TypeSpec) -> str:
    """``Resolved.scalar`` of a reference to ``target`` ('' if it cannot be one)."""
    parts = key_parts(reg, target)
    if not parts:
        return ""
    return parts[0].type.value if len(parts) == 1 else COMPOSITE


def reference_hint(by_name: dict[str, RegistrySpec], res: Resolved) -> str:
    """Why the target of ``res`` cannot be referenced, as a hint ('' if unknown)."""
    reg = by_name.get(res.registry)
    target = type_named(reg, res.target) if reg else None
    if reg is None or target is None:
        return ""
    root = primary_key(reg, target)
    if root.unique:
        return "its primary_key is 'unique': its objects have no key to store"
    props = {p.name: p for p in effective_properties(reg, target)}
    for key in root.primary_key or ():
        prop = props.get(key.value)
        if prop is None:
            continue
        if prop.resolved is not None and prop.resolved.kind == "ref":
            # its column's type would depend on another table being defined first
            return f"its key {prop.name!r} is itself a reference to {prop.type.value!r}"
        if prop.type.value not in KEY_SCALARS:
            return f"its key {prop.name!r} is of type {prop.type.value!r}"
    return ""


def check_keys(d: Diagnostics, reg: RegistrySpec, spec: TypeSpec) -> None:
    """The ``primary_key`` rules of one type (run once references are resolved).

    A key part may not be a reference to a composite-key type: SQL takes a class's
    ``sync_primary_keys`` from its primary-key columns, and such a reference is one
    wire property over several columns.
    """
    kp = f"{spec.key_path}.primary_key"
    if spec.parent is not None:
        if spec.primary_key is not None or spec.unique:
            d.error(
                spec.primary_key_loc or spec.loc,
                f"type {spec.name!r} inherits its primary key from its parent",
                kp,
            )
        return
    if spec.primary_key is None:
        # A primary_key that was written but invalid has been reported already.
        if not spec.unique and spec.primary_key_loc is None:
            d.error(
                spec.loc,
                f"type {spec.name!r} needs a primary_key",
                spec.key_path,
                "name one or more properties, or 'unique' (memory types)",
            )
        return
    props = {p.name: p for p in effective_properties(reg, spec)}
    for key in spec.primary_key:
        prop = props.get(key.value)
        if key.value in spec.invalid_properties:
            continue
        if prop is None:
            hint = did_you_mean(key.value, list(props))
            d.error(
                key.loc,
                f"primary key {key.value!r} is not a property of {spec.name!r}",
                kp,
                hint,
            )
            continue
        problem = _key_problem(prop)
        if problem:
            d.error(key.loc, f"primary key {key.value!r} {problem}", kp)
        elif prop.resolved is not None and prop.resolved.scalar == COMPOSITE:
            d.error(
                key.loc,
                f"primary key {key.value!r} cannot be a reference to "
                f"{prop.resolved.target!r}, whose key has several parts",
                kp,
                "reference a type with a single key, or make the parts keys",
            )


def _key_problem(prop: PropertySpec) -> str:
    if prop.nullable:
        return "must not be nullable"
    if not prop.sync:
        return "must be synchronised"
    if prop.resolved is not None and prop.resolved.scalar in (
        "json",
        "float",
        "decimal",
    ):
        return f"cannot be of type {prop.resolved.scalar}"
    return ""
