"""Navigation rules of SQL references: where ``navigate``/``back``/``many_to_many``
apply, and that the attributes they add are free names on the types they land on.

Run by :mod:`entanglegen.collisions` once types are resolved.
"""

from __future__ import annotations

from . import naming
from .collisions_refkeys import part_column_names
from .collisions_runtime import runtime_attributes
from .diagnostics import Diagnostics
from .resolve_index import effective_properties, type_named
from .spec import Located, PropertySpec, RegistrySpec, TypeSpec

__all__ = ["NavigationRules"]


class NavigationRules:
    """The navigation checks of one registry (see the module docstring)."""

    def __init__(self, diags: Diagnostics, by_name: dict[str, RegistrySpec]) -> None:
        self.d = diags
        self.by_name = by_name

    def run(self, reg: RegistrySpec) -> None:
        """``navigate``/``back`` of references: where they apply, and free names."""
        taken: dict[int, dict[str, str]] = {}  # id(TypeSpec) -> attribute -> what

        def names_of(spec: TypeSpec) -> dict[str, str]:
            if id(spec) not in taken:
                names = taken[id(spec)] = {}
                for p in effective_properties(reg, spec):
                    names[naming.attribute_name(p.name)] = f"property {p.name!r}"
                    for column in part_column_names(self.by_name, p):
                        names[column] = f"the column {column!r} of reference {p.name!r}"
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
