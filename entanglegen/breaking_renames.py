"""Validation of ``renamed_from`` on types and properties (run by :mod:`entanglegen.resolve`).

``renamed_from: old`` says "this type/property used to be called ``old``".  While it stays
in the schema the wire keeps the old name (a renamed type keeps ``sync_type: old`` unless
``sync_type`` is given; a renamed property is sent as ``old`` and received under either
name), the generated Python name and the SQL table/column take the new name, and
``entanglegen breaking`` and ``entanglegen migrations`` see a rename instead of a removal
plus an addition.

Rules (each a located error):

* the old name is a valid name of its kind and differs from the new one;
* it does not name a type (property) that still exists in the registry (in the type, its
  ancestors or its children): the two would share a wire name;
* no two types of a registry (no two properties of one type, inherited ones included)
  are renamed from the same name;
* a primary-key property is not renamed: the key is the object's identity on every
  peer, and the runtime does not map aliases of key properties.

The old property name goes through the same sanitising as a declared one (``class``
becomes ``class_``), since that is the wire name the old schema generated.
"""

from __future__ import annotations

from . import naming
from .diagnostics import Diagnostics
from .spec import PropertySpec, RegistrySpec, TypeSpec

__all__ = ["check_renames"]


def check_renames(regs: list[RegistrySpec], diags: Diagnostics) -> None:
    """Report every invalid ``renamed_from`` of the project (in place, into ``diags``)."""
    for reg in regs:
        _types(reg, diags)
        for spec in reg.types:
            # Most types rename nothing; the others look at their whole family.
            if any(p.renamed_from is not None for p in spec.properties):
                _properties(reg, spec, diags)


def _types(reg: RegistrySpec, diags: Diagnostics) -> None:
    names = {t.name for t in reg.types} | {e.name for e in reg.enums}
    seen: dict[str, str] = {}
    for spec in reg.types:
        old = spec.renamed_from
        if old is None:
            continue
        kp = f"{spec.key_path}.renamed_from"
        if not old.value.strip() or "." in old.value:
            diags.error(
                old.loc,
                f"renamed_from {old.value!r} is not a type name",
                kp,
                "name the type as it was written in this file",
            )
        elif old.value == spec.name:
            diags.error(old.loc, f"type {spec.name!r} is renamed from itself", kp)
        elif old.value in names:
            diags.error(
                old.loc,
                f"type {spec.name!r} is renamed from {old.value!r}, which still exists",
                kp,
                "remove or rename the old type, or drop renamed_from",
            )
        elif old.value in seen:
            diags.error(
                old.loc,
                f"types {seen[old.value]!r} and {spec.name!r} are both renamed from "
                f"{old.value!r}",
                kp,
            )
        seen.setdefault(old.value, spec.name)


def _family(reg: RegistrySpec, spec: TypeSpec) -> list[PropertySpec]:
    """Properties sharing an object with ``spec``'s: its ancestors', its own, its children's."""
    from .resolve import ancestry, effective_properties

    props = list(effective_properties(reg, spec))
    for other in reg.types:
        if other is not spec and any(a is spec for a in ancestry(reg, other)[1:]):
            props += other.properties
    return props


def _properties(reg: RegistrySpec, spec: TypeSpec, diags: Diagnostics) -> None:
    from .resolve import primary_key

    family = _family(reg, spec)
    current = {naming.attribute_name(p.name) for p in family}
    renamed: dict[str, PropertySpec] = {}
    for prop in family:
        if prop.renamed_from is not None:
            renamed.setdefault(naming.attribute_name(prop.renamed_from.value), prop)
    keys = {k.value for k in primary_key(reg, spec).primary_key or ()}
    for prop in spec.properties:
        old = prop.renamed_from
        if old is None:
            continue
        kp = f"{prop.key_path}.renamed_from"
        if prop.name in keys:
            diags.error(
                old.loc,
                f"primary key {prop.name!r} cannot be renamed: the key is the object's "
                "identity on every peer",
                kp,
                "keep the key's name (its attribute and column stay as they are)",
            )
            continue
        attr = naming.attribute_name(old.value)
        if not old.value or old.value.startswith(("_", "sync_")):
            diags.error(
                old.loc,
                f"renamed_from {old.value!r} is not a property name that could have "
                "been declared",
                kp,
            )
        elif old.value == prop.name:
            diags.error(old.loc, f"property {prop.name!r} is renamed from itself", kp)
        elif attr in current:
            where = "" if attr in {p.name for p in spec.properties} else " (inherited)"
            diags.error(
                old.loc,
                f"property {prop.name!r} is renamed from {old.value!r}, which still "
                f"exists{where}",
                kp,
                "remove or rename the old property, or drop renamed_from",
            )
        elif renamed[attr] is not prop:
            diags.error(
                old.loc,
                f"properties {renamed[attr].name!r} and {prop.name!r} are both renamed "
                f"from {old.value!r}",
                kp,
            )
