"""Stage 2b (continued): what a property's ``type`` names, across the project.

:class:`TypeResolver` resolves scalars, lists and maps (``of:``), enums and references
(``Type`` of this registry, ``registry.Type`` of another), with a did-you-mean for unknown
names and a hint for Python-style generics (``list[str]``).  A reference's
``Resolved.scalar`` is its key's kind (see :mod:`entanglegen.resolve_keys`).
"""

from __future__ import annotations

import re

from .diagnostics import Diagnostics
from .resolve_index import enum_named, type_named
from .resolve_keys import key_scalar
from .schema import did_you_mean
from .spec import (
    CONTAINER_TYPES,
    ITEM_TYPES,
    SCALAR_TYPES,
    EnumSpec,
    PropertySpec,
    RegistrySpec,
    Resolved,
)

__all__ = ["TypeResolver"]

_GENERIC = re.compile(r"(list|map|dict)\[\s*(?:str\s*,\s*)?(\w+)\s*\]")


class TypeResolver:
    """Resolves property types; :class:`entanglegen.resolve._Resolver` runs it."""

    def __init__(self, regs: list[RegistrySpec], diags: Diagnostics) -> None:
        self.regs = regs
        self.d = diags
        self.by_name = {r.registry.value: r for r in regs if r.registry.value}

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
            "ref", scalar=key_scalar(reg, target), registry=reg_name, target=name
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

    def enum(self, res: Resolved) -> EnumSpec | None:
        reg = self.by_name.get(res.registry)
        return enum_named(reg, res.target) if reg else None
