"""Stage 2b: project-wide checks that need every schema file at once.

Run after :mod:`entanglegen.schema` has built one :class:`~entanglegen.spec.RegistrySpec`
per file.  Resolves property types (scalars, enums, references to types of this or another
registry written ``registry.Type``), parents (same registry only, no cycles), primary keys
and defaults, and attaches a :class:`~entanglegen.spec.Resolved` to each property.

Choices:

* inline enums (``type: enum`` + ``values``) become enums named ``<Type><Property>``;
* a reference stores the referenced object's key, so its target's key must be one or
  more properties of type uuid, int or str (:mod:`entanglegen.resolve_keys`; property
  types are resolved by :mod:`entanglegen.resolve_types`);
* inheritance stays inside one registry (SQL joined-table inheritance needs one metadata).
"""

from __future__ import annotations

from pathlib import Path

from . import naming
from .breaking_renames import check_renames
from .collisions import check_collisions
from .defaults import option_problems
from .diagnostics import Diagnostics, shown_path
from .hooks import check_hooks
from .resolve_index import (
    ancestry,
    cycles,
    effective_properties,
    enum_named,
    primary_key,
    type_named,
)
from .resolve_keys import check_keys, reference_hint
from .resolve_types import TypeResolver
from .schema import did_you_mean
from .spec import MISSING, EnumSpec, PropertySpec, RegistrySpec, Resolved, TypeSpec

__all__ = ["ancestry", "effective_properties", "primary_key", "resolve_project"]


class _Resolver(TypeResolver):
    def run(self) -> None:
        self.registries()
        for reg in self.regs:
            self.inline_enums(reg)
            self.names(reg)
            for spec in reg.types:
                self.parent(reg, spec)
            self.cycles(reg)
        for reg in self.regs:
            for spec in reg.types:
                for prop in spec.properties:
                    self.prop_type(reg, prop)
        for reg in self.regs:
            for spec in reg.types:
                check_keys(self.d, reg, spec)
                self.inherited_names(reg, spec)
                for prop in spec.properties:
                    self.options(reg, spec, prop)

    def registries(self) -> None:
        for attr in ("registry", "package"):
            seen: dict[str, RegistrySpec] = {}
            for reg in self.regs:
                value = getattr(reg, attr)
                if not value.value:
                    continue
                if value.value in seen:
                    other = seen[value.value].path
                    self.d.error(
                        value.loc,
                        f"{attr} {value.value!r} is already declared in {shown_path(other)}",
                        attr,
                    )
                seen.setdefault(value.value, reg)

    def names(self, reg: RegistrySpec) -> None:
        classes: dict[str, str] = {}
        wire: dict[str, str] = {}
        tables: dict[str, str] = {}
        items: list[EnumSpec | TypeSpec] = [*reg.enums, *reg.types]
        for item in items:
            cls = naming.class_name(item.name)
            if cls in classes:
                self.d.error(
                    item.loc,
                    f"{_describe(item)} and {classes[cls]} both become class {cls}",
                    item.key_path,
                )
            classes.setdefault(cls, _describe(item))
        for spec in reg.types:
            self._shadowing(spec, classes)
            self._unique(wire, spec.sync_type, spec, "sync_type")
            table = spec.table.value if spec.table else naming.snake_case(spec.name)
            if spec.storage == "sql":
                self._unique(tables, table, spec, "table")

    def _shadowing(self, spec: TypeSpec, classes: dict[str, str]) -> None:
        # A class attribute named like a class of the module would hide that class from
        # the annotations after it.
        for prop in spec.properties:
            attr = naming.attribute_name(prop.name)
            if attr in classes:
                self.d.error(
                    prop.loc,
                    f"property {prop.name!r} has the name of the generated class of "
                    f"{classes[attr]}",
                    prop.key_path,
                    "rename the property (names are usually lower_case)",
                )

    def _unique(
        self, seen: dict[str, str], value: str, spec: TypeSpec, what: str
    ) -> None:
        if value in seen:
            self.d.error(
                spec.loc,
                f"types {seen[value]!r} and {spec.name!r} share the {what} {value!r}",
                f"{spec.key_path}.{what}",
            )
        seen.setdefault(value, spec.name)

    def inline_enums(self, reg: RegistrySpec) -> None:
        for spec in reg.types:
            for prop in spec.properties:
                if prop.values is None:
                    continue
                if prop.type.value != "enum":
                    self.d.error(
                        prop.values_loc or prop.loc,
                        "values applies to type: enum only",
                        f"{prop.key_path}.values",
                    )
                    continue
                name = naming.class_name(spec.name) + naming.class_name(prop.name)
                if enum_named(reg, name) is not None:
                    self.d.error(
                        prop.loc,
                        f"inline enum {name} clashes with enum {name!r}",
                        prop.key_path,
                    )
                    continue
                reg.enums.append(EnumSpec(name, prop.loc, prop.key_path, prop.values))
                prop.resolved = Resolved(
                    "enum", registry=reg.registry.value, target=name
                )

    def parent(self, reg: RegistrySpec, spec: TypeSpec) -> None:
        if spec.parent is None:
            return
        name, kp = spec.parent.value, f"{spec.key_path}.parent"
        if type_named(reg, name) is None:
            if "." in name:
                self.d.error(
                    spec.parent.loc,
                    f"parent {name!r} must be a type of this registry",
                    kp,
                    "inheritance cannot cross registries",
                )
            else:
                hint = did_you_mean(name, [t.name for t in reg.types])
                self.d.error(spec.parent.loc, f"unknown parent type {name!r}", kp, hint)
            return

    def cycles(self, reg: RegistrySpec) -> None:
        # Found once per registry (linear); each member names the cycle from itself.
        for cycle in cycles(reg):
            for i, member in enumerate(cycle):
                names = [t.name for t in cycle[i:] + cycle[: i + 1]]
                if member.parent is not None:
                    self.d.error(
                        member.parent.loc,
                        f"inheritance cycle: {' -> '.join(names)}",
                        f"{member.key_path}.parent",
                    )

    def inherited_names(self, reg: RegistrySpec, spec: TypeSpec) -> None:
        seen: dict[str, str] = {}
        for owner in reversed(ancestry(reg, spec)):
            for prop in owner.properties:
                attr = naming.attribute_name(prop.name)
                if attr in seen and owner is spec:
                    where = seen[attr]
                    what = (
                        "already defined"
                        if where == spec.name
                        else f"inherited from {where!r}"
                    )
                    self.d.error(
                        prop.loc, f"property {prop.name!r} is {what}", prop.key_path
                    )
                seen.setdefault(attr, owner.name)

    def options(self, reg: RegistrySpec, spec: TypeSpec, prop: PropertySpec) -> None:
        res = prop.resolved
        if res is None:
            return
        if res.kind == "ref" and not res.scalar:
            self.d.error(
                prop.type.loc,
                f"type {res.target!r} cannot be referenced: a reference stores its "
                "key, which must be one or more properties of type uuid, int or str",
                f"{prop.key_path}.type",
                reference_hint(self.by_name, res),
            )
        for loc, message, kp, hint in option_problems(spec, prop, res, self.enum(res)):
            self.d.error(loc or prop.loc, message, kp, hint)
        if not prop.sync and not prop.nullable and prop.default is MISSING:
            self.d.error(
                prop.sync_loc or prop.loc,
                f"property {prop.name!r} is not synchronised, so a receiving node cannot "
                "fill it: give it a default or make it nullable",
                f"{prop.key_path}.sync",
            )
        if not prop.sync and (prop.encoder or prop.decoder):
            self.d.warning(
                prop.loc,
                "encoder/decoder of a property that is not synchronised "
                "are never used",
                prop.key_path,
            )


def _describe(item: EnumSpec | TypeSpec) -> str:
    if isinstance(item, TypeSpec):
        return f"type {item.name!r}"
    if item.key_path.startswith("types."):  # an inline enum: types.T.properties.p
        parts = item.key_path.split(".")
        return f"the inline enum of {parts[1]}.{parts[-1]}"
    return f"enum {item.name!r}"


def resolve_project(
    regs: list[RegistrySpec], diags: Diagnostics, root: Path | None = None
) -> None:
    """Check the project as a whole and attach resolved types (in place).

    ``root`` (the project root) is where hooks of the application's own modules are
    looked for when the interpreter does not find them.
    """
    _Resolver(regs, diags).run()
    check_collisions(regs, diags)
    check_hooks(regs, diags, (root,) if root is not None else ())
    check_renames(regs, diags)
