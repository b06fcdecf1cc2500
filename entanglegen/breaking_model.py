"""The facts ``entanglegen breaking`` compares: one schema state, loaded and resolved.

A side of the comparison (the working tree, a git ref, a directory) is a list of
:class:`Source` texts.  They go through the generator's own stages (loader → schema →
resolve), and the resolved specs are reduced to plain facts: per registry its package,
storage, operations and enums; per type its class, wire name, table, parent and key; per
property its attribute, wire name, resolved type (with a list's or map's item and a
decimal's digits), length, nullability, default, server default, onupdate, sync flag and
codec; per SQL type the indexes and constraints of its table, as
:func:`entanglegen.collisions_constraints.table_constraints` lists them for the
generated ``__table_args__``.  Names are computed by the same functions the IR uses
(:mod:`entanglegen.naming`, :func:`entanglegen.ir_types.table_name`), so what is compared
is what would be generated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from . import naming
from .breaking_navigation import NavFacts, navigation
from .collisions_constraints import table_constraints
from .diagnostics import Diagnostic, Diagnostics, Loc
from .ir_types import table_name
from .loader import load_text
from .resolve import primary_key, resolve_project
from .schema import validate_file
from .spec import (
    BUILTIN_OPERATIONS,
    MISSING,
    UNIQUE,
    PropertySpec,
    RegistrySpec,
    TypeSpec,
)

__all__ = [
    "ConstraintFacts",
    "EnumFacts",
    "Project",
    "PropFacts",
    "RegistryFacts",
    "Source",
    "TypeFacts",
    "load_project",
]


@dataclass(frozen=True, slots=True)
class Source:
    """One schema file's text, and the path shown for it (relative to the project root)."""

    display: str
    text: str


@dataclass(frozen=True, slots=True)
class PropFacts:
    name: str
    loc: Loc
    attr: str
    wire: str
    renamed_from: str | None
    kind: str  # scalar | enum | ref
    scalar: str  # the scalar (of the key, for a reference); "" for an enum
    enum: str  # "registry.Enum" of a named enum, "" for an inline one
    values: tuple[str, ...]
    target: str  # "registry.Type" of a reference
    length: int | None
    nullable: bool
    default: object
    sync: bool
    codec: tuple[str, str]  # dotted encoder and decoder ("" for none)
    container: str = ""  # list | map
    item: str = ""  # what a list or map holds
    precision: int = 0  # of a decimal
    scale: int = 0
    server_default: str | None = None  # its text, as the column's DEFAULT
    onupdate: str | None = None

    @property
    def has_default(self) -> bool:
        return self.default is not MISSING


@dataclass(frozen=True, slots=True)
class TypeFacts:
    name: str
    loc: Loc
    key_loc: Loc
    class_name: str
    sync_type: str
    renamed_from: str | None
    table: str  # "" in memory
    parent: str
    key: tuple[str, ...]  # the root's key property names, or ("unique",)
    priority: int | None
    unknown_properties: str  # refuse | store_rest (what this type's nodes do)
    props: dict[str, PropFacts] = field(default_factory=dict)
    constraints: tuple[ConstraintFacts, ...] = ()  # sql: of its own table


@dataclass(frozen=True, slots=True)
class ConstraintFacts:
    """An index, unique constraint or CHECK of a type's table (``columns`` are property
    names as written); ``rule`` is ``unique`` for a unique constraint or unique index,
    ``index`` for a plain index, ``check``."""

    kind: str  # index | unique | check
    rule: str
    name: str
    columns: tuple[str, ...]
    sql: str
    loc: Loc


@dataclass(frozen=True, slots=True)
class EnumFacts:
    name: str
    loc: Loc
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RegistryFacts:
    name: str
    loc: Loc
    path: str
    package: str
    package_loc: Loc
    storage: str
    operations: dict[str, Loc]
    enums: dict[str, EnumFacts]
    types: dict[str, TypeFacts]
    navigation: tuple[NavFacts, ...] = ()  # sql: the attributes relationships make


@dataclass(frozen=True, slots=True)
class Project:
    """One side of the comparison; ``diagnostics`` holds its schema errors, if any."""

    registries: dict[str, RegistryFacts]
    diagnostics: list[Diagnostic]

    @property
    def ok(self) -> bool:
        return not any(d.level == "error" for d in self.diagnostics)


def load_project(sources: list[Source]) -> Project:
    """Load, validate and resolve ``sources`` together, as ``entanglegen build`` would."""
    diags = Diagnostics()
    specs: list[RegistrySpec] = []
    for source in sources:
        node = load_text(source.text, source.display, diags)
        spec = validate_file(node, source.display, diags) if node is not None else None
        if spec is not None:
            specs.append(spec)
    resolve_project(specs, diags)
    items = diags.sorted()
    if diags.has_errors:
        return Project({}, items)
    by_name = {r.registry.value: r for r in specs}
    return Project({name: _registry(r, by_name) for name, r in by_name.items()}, items)


def _registry(reg: RegistrySpec, by_name: dict[str, RegistrySpec]) -> RegistryFacts:
    if reg.operations is None:
        ops = {name: reg.registry.loc for name in BUILTIN_OPERATIONS}
    else:
        ops = {op.name: op.loc for op in reg.operations}
    enums = {
        e.name: EnumFacts(e.name, e.loc, e.values)
        for e in reg.enums
        if not e.key_path.startswith("types.")  # inline enums belong to their property
    }
    return RegistryFacts(
        name=reg.registry.value,
        loc=reg.registry.loc,
        path=reg.path,
        package=reg.package.value,
        package_loc=reg.package.loc,
        storage=reg.storage,
        operations=ops,
        enums=enums,
        types={t.name: _type(reg, t, by_name) for t in reg.types},
        navigation=navigation(reg),
    )


def _type(
    reg: RegistrySpec, spec: TypeSpec, by_name: dict[str, RegistrySpec]
) -> TypeFacts:
    root = primary_key(reg, spec)
    key = (UNIQUE,) if root.unique else tuple(k.value for k in root.primary_key or ())
    return TypeFacts(
        name=spec.name,
        loc=spec.loc,
        key_loc=spec.primary_key_loc or spec.loc,
        class_name=naming.class_name(spec.name),
        sync_type=spec.sync_type,
        renamed_from=spec.renamed_from.value if spec.renamed_from else None,
        table=table_name(spec) if reg.storage == "sql" else "",
        parent=spec.parent.value if spec.parent else "",
        key=key,
        priority=spec.priority,
        unknown_properties=spec.unknown_properties,
        props={p.name: _prop(p, by_name) for p in spec.properties},
        constraints=_constraints(spec) if reg.storage == "sql" else (),
    )


def _constraints(spec: TypeSpec) -> tuple[ConstraintFacts, ...]:
    found = []
    for c in table_constraints(spec):
        rule = "unique" if c.kind == "unique" or c.unique else c.kind
        found.append(ConstraintFacts(c.kind, rule, c.name, c.names, c.sql, c.loc))
    return tuple(found)


def _prop(prop: PropertySpec, by_name: dict[str, RegistrySpec]) -> PropFacts:
    res = prop.resolved
    assert res is not None  # a resolved project has no unresolved property
    attr = naming.attribute_name(prop.name)
    old = prop.renamed_from
    inline = res.kind == "enum" and prop.values is not None
    values: tuple[str, ...] = ()
    if res.kind == "enum":
        values = prop.values or _enum_values(by_name, res.registry, res.target)
    return PropFacts(
        name=prop.name,
        loc=prop.loc,
        attr=attr,
        wire=naming.attribute_name(old.value) if old and prop.sync else attr,
        renamed_from=old.value if old else None,
        kind=res.kind,
        scalar=res.scalar,
        enum="" if inline or res.kind != "enum" else f"{res.registry}.{res.target}",
        values=values,
        target=f"{res.registry}.{res.target}" if res.kind == "ref" else "",
        length=prop.length,
        nullable=prop.nullable,
        default=prop.default,
        sync=prop.sync,
        codec=(
            prop.encoder.value if prop.encoder else "",
            prop.decoder.value if prop.decoder else "",
        ),
        container=res.container,
        item=res.item,
        precision=prop.precision or 0,
        scale=prop.scale or 0,
        server_default=_server_default(prop),
        onupdate=prop.onupdate.value if prop.onupdate else None,
    )


def _server_default(prop: PropertySpec) -> str | None:
    value = prop.server_default
    if value is MISSING:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value).lower() if isinstance(value, bool) else str(value)


def _enum_values(
    by_name: dict[str, RegistrySpec], registry: str, name: str
) -> tuple[str, ...]:
    # A property may use another registry's enum; its values come from that registry.
    owner = by_name.get(registry)
    enum = owner.enum_named(name) if owner else None
    return enum.values if enum else ()
