"""Stage 2b: project-wide checks that need every schema file at once.

Run after :mod:`entanglegen.schema` has built one :class:`~entanglegen.spec.RegistrySpec`
per file.  Resolves property types (scalars, enums, references to types of this or another
registry written ``registry.Type``), parents (same registry only, no cycles), primary keys
and defaults, and attaches a :class:`~entanglegen.spec.Resolved` to each property.

Choices:

* inline enums (``type: enum`` + ``values``) become enums named ``<Type><Property>``;
* a reference stores the referenced object's key, so its target needs exactly one key
  property of type uuid, int or str;
* inheritance stays inside one registry (SQL joined-table inheritance needs one metadata).
"""

from __future__ import annotations

import re

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
from .schema import did_you_mean
from .spec import (
    CONTAINER_TYPES,
    ITEM_TYPES,
    MISSING,
    SCALAR_TYPES,
    EnumSpec,
    PropertySpec,
    RegistrySpec,
    Resolved,
    TypeSpec,
)

__all__ = ["ancestry", "effective_properties", "primary_key", "resolve_project"]

_KEY_SCALARS = ("uuid", "int", "str")
_GENERIC = re.compile(r"(list|map|dict)\[\s*(?:str\s*,\s*)?(\w+)\s*\]")


class _Resolver:
    def __init__(self, regs: list[RegistrySpec], diags: Diagnostics) -> None:
        self.regs = regs
        self.d = diags
        self.by_name = {r.registry.value: r for r in regs if r.registry.value}

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
                self.keys(reg, spec)
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

    def prop_type(self, reg: RegistrySpec, prop: PropertySpec) -> None:
        if prop.resolved is not None:
            return
        name, kp = prop.type.value, f"{prop.key_path}.type"
        if name in SCALAR_TYPES:
            prop.resolved = Resolved("scalar", scalar=name)
        elif name in CONTAINER_TYPES:
            self.container(prop, name, kp)
        elif name == "enum":
            self.d.error(
                prop.type.loc, "type: enum needs values", kp, "add values: [a, b]"
            )
        elif "." in name:
            self.qualified(reg, prop, name, kp)
        else:
            prop.resolved = self.lookup(reg, name)
            if prop.resolved is None:
                self.unknown(reg, prop, name, kp)

    def container(self, prop: PropertySpec, name: str, kp: str) -> None:
        of = prop.of
        if of is None:
            self.d.error(
                prop.type.loc,
                f"type: {name} needs of: (the type of its items)",
                kp,
                f"for example of: str ({'list[str]' if name == 'list' else 'dict[str, str]'})",
            )
        elif of.value not in ITEM_TYPES:
            hint = did_you_mean(of.value, list(ITEM_TYPES))
            self.d.error(
                of.loc,
                f"a {name} holds str, int, float or bool, not {of.value!r}",
                f"{prop.key_path}.of",
                hint or "use type: json for anything else",
            )
        else:
            prop.resolved = Resolved(
                "scalar", scalar="json", container=name, item=of.value
            )

    def lookup(self, reg: RegistrySpec, name: str) -> Resolved | None:
        reg_name = reg.registry.value
        if enum_named(reg, name) is not None:
            return Resolved("enum", registry=reg_name, target=name)
        target = type_named(reg, name)
        if target is None:
            return None
        return Resolved(
            "ref", scalar=self.key_scalar(reg, target), registry=reg_name, target=name
        )

    def qualified(
        self, reg: RegistrySpec, prop: PropertySpec, name: str, kp: str
    ) -> None:
        reg_name, _, type_name = name.partition(".")
        other = self.by_name.get(reg_name)
        if other is None:
            hint = did_you_mean(reg_name, sorted(self.by_name))
            self.d.error(
                prop.type.loc,
                f"unknown registry {reg_name!r} in type {name!r}",
                kp,
                hint or "list the file that declares it among the schemas",
            )
            return
        prop.resolved = self.lookup(other, type_name)
        if prop.resolved is None:
            hint = did_you_mean(
                type_name, [t.name for t in other.types] + [e.name for e in other.enums]
            )
            self.d.error(
                prop.type.loc,
                f"registry {reg_name!r} has no type or enum {type_name!r}",
                kp,
                hint,
            )

    def unknown(
        self, reg: RegistrySpec, prop: PropertySpec, name: str, kp: str
    ) -> None:
        if (generic := _GENERIC.fullmatch(name)) is not None:
            self.d.error(
                prop.type.loc,
                f"unknown type {name!r}",
                kp,
                f"write type: {generic[1].replace('dict', 'map')}, of: {generic[2]}",
            )
            return
        candidates = [
            *SCALAR_TYPES,
            *CONTAINER_TYPES,
            "enum",
            *(t.name for t in reg.types),
            *(e.name for e in reg.enums),
        ]
        for other in self.regs:
            if other is not reg:
                candidates += [f"{other.registry.value}.{t.name}" for t in other.types]
        self.d.error(
            prop.type.loc, f"unknown type {name!r}", kp, did_you_mean(name, candidates)
        )

    def key_scalar(self, reg: RegistrySpec, target: TypeSpec) -> str:
        root = primary_key(reg, target)
        if root.unique or not root.primary_key or len(root.primary_key) != 1:
            return ""
        key = root.primary_key[0].value
        prop = next(
            (p for p in effective_properties(reg, target) if p.name == key), None
        )
        if prop is None or prop.type.value not in _KEY_SCALARS:
            return ""
        return prop.type.value

    def keys(self, reg: RegistrySpec, spec: TypeSpec) -> None:
        kp = f"{spec.key_path}.primary_key"
        if spec.parent is not None:
            if spec.primary_key is not None or spec.unique:
                self.d.error(
                    spec.primary_key_loc or spec.loc,
                    f"type {spec.name!r} inherits its primary key from its parent",
                    kp,
                )
            return
        if spec.primary_key is None:
            # A primary_key that was written but invalid has been reported already.
            if not spec.unique and spec.primary_key_loc is None:
                self.d.error(
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
                self.d.error(
                    key.loc,
                    f"primary key {key.value!r} is not a property of " f"{spec.name!r}",
                    kp,
                    hint,
                )
            elif prop.nullable:
                self.d.error(
                    key.loc, f"primary key {key.value!r} must not be nullable", kp
                )
            elif not prop.sync:
                self.d.error(
                    key.loc, f"primary key {key.value!r} must be synchronised", kp
                )
            elif prop.resolved is not None and prop.resolved.scalar in (
                "json",
                "float",
                "decimal",
            ):
                self.d.error(
                    key.loc,
                    f"primary key {key.value!r} cannot be of type "
                    f"{prop.resolved.scalar}",
                    kp,
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
                f"type {res.target!r} cannot be referenced: it needs a "
                "single primary key of type uuid, int or str",
                f"{prop.key_path}.type",
                self.key_hint(res),
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

    def key_hint(self, res: Resolved) -> str:
        # A key that is itself a reference: its column's type would depend on another
        # table being defined first (the import order of the generated modules).
        reg = self.by_name.get(res.registry)
        target = type_named(reg, res.target) if reg else None
        if reg is None or target is None:
            return ""
        keys = primary_key(reg, target).primary_key or ()
        props = {p.name: p for p in effective_properties(reg, target)}
        key = props.get(keys[0].value) if len(keys) == 1 else None
        if key is None or key.resolved is None or key.resolved.kind != "ref":
            return ""
        return f"its key {key.name!r} is itself a reference to {key.type.value!r}"

    def enum(self, res: Resolved) -> EnumSpec | None:
        reg = self.by_name.get(res.registry)
        return enum_named(reg, res.target) if reg else None


def _describe(item: EnumSpec | TypeSpec) -> str:
    if isinstance(item, TypeSpec):
        return f"type {item.name!r}"
    if item.key_path.startswith("types."):  # an inline enum: types.T.properties.p
        parts = item.key_path.split(".")
        return f"the inline enum of {parts[1]}.{parts[-1]}"
    return f"enum {item.name!r}"


def resolve_project(regs: list[RegistrySpec], diags: Diagnostics) -> None:
    """Check the project as a whole and attach resolved types (in place)."""
    _Resolver(regs, diags).run()
    check_collisions(regs, diags)
    check_hooks(regs, diags)
    check_renames(regs, diags)
