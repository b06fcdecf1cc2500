"""Name lookups and inheritance chains of a registry in linear time.

:class:`~entanglegen.spec.RegistrySpec` finds types and enums by a linear scan, and an
inheritance chain walked from scratch for every type made validation grow with the cube of
the depth (a 1,000-deep chain took ~47 s).  This module keeps, per registry, an index by
name and the memoised chain of every type: each chain is built from its parent's, so all
chains of a registry cost one walk (plus copying them out).  Cycles are found once per
registry by colouring (each type is visited once).

The cache is keyed by the registry object and checked against its lists (the same list
objects, the same lengths), so a registry that gains an enum or a type, or a new registry
that reuses a freed ``id``, never sees a stale entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .spec import EnumSpec, PropertySpec, RegistrySpec, TypeSpec

__all__ = [
    "ancestry",
    "cycles",
    "effective_properties",
    "enum_named",
    "primary_key",
    "type_named",
]

_CACHE_LIMIT = 1024


@dataclass(slots=True)
class _Index:
    types: list[TypeSpec]
    enums: list[EnumSpec]
    type_count: int
    enum_count: int
    by_name: dict[str, TypeSpec]
    enums_by_name: dict[str, EnumSpec]
    # id(TypeSpec) -> its chain, most-derived first (only chains that end without a cycle)
    chains: dict[int, tuple[TypeSpec, ...]] = field(default_factory=dict)


_CACHE: dict[int, _Index] = {}


def _index(reg: RegistrySpec) -> _Index:
    entry = _CACHE.get(id(reg))
    if (
        entry is not None
        and entry.types is reg.types
        and entry.enums is reg.enums
        and entry.type_count == len(reg.types)
        and entry.enum_count == len(reg.enums)
    ):
        return entry
    if len(_CACHE) >= _CACHE_LIMIT:
        _CACHE.clear()
    # The first of two equal names wins, as RegistrySpec.type_named's scan does.
    entry = _Index(
        reg.types,
        reg.enums,
        len(reg.types),
        len(reg.enums),
        {t.name: t for t in reversed(reg.types)},
        {e.name: e for e in reversed(reg.enums)},
    )
    _CACHE[id(reg)] = entry
    return entry


def type_named(reg: RegistrySpec, name: str) -> TypeSpec | None:
    return _index(reg).by_name.get(name)


def enum_named(reg: RegistrySpec, name: str) -> EnumSpec | None:
    return _index(reg).enums_by_name.get(name)


def ancestry(reg: RegistrySpec, spec: TypeSpec) -> list[TypeSpec]:
    """``spec`` and its ancestors, most-derived first (stops at a cycle or unknown parent)."""
    index = _index(reg)
    known = index.chains.get(id(spec))
    if known is not None:
        return list(known)
    path: list[TypeSpec] = []
    seen: set[int] = set()
    current: TypeSpec | None = spec
    tail: tuple[TypeSpec, ...] = ()
    cyclic = False
    while current is not None:
        if id(current) in seen:
            cyclic = True
            break
        if (memo := index.chains.get(id(current))) is not None:
            tail = memo
            break
        seen.add(id(current))
        path.append(current)
        parent = current.parent
        current = index.by_name.get(parent.value) if parent is not None else None
    if cyclic:  # an error already reported; nothing to memoise
        return path
    for i in range(len(path) - 1, -1, -1):
        tail = (path[i], *tail)
        index.chains[id(path[i])] = tail
    return list(tail)


def effective_properties(reg: RegistrySpec, spec: TypeSpec) -> list[PropertySpec]:
    """Inherited properties first (root-most), then the type's own."""
    return [p for t in reversed(ancestry(reg, spec)) for p in t.properties]


def primary_key(reg: RegistrySpec, spec: TypeSpec) -> TypeSpec:
    """The type (``spec`` or an ancestor) that declares the key."""
    return ancestry(reg, spec)[-1]


def cycles(reg: RegistrySpec) -> list[list[TypeSpec]]:
    """Every inheritance cycle of ``reg``, each in parent order from its first member."""
    index = _index(reg)
    state: dict[int, int] = {}  # 1: on the current walk, 2: finished
    found: list[list[TypeSpec]] = []
    for start in reg.types:
        walk: list[TypeSpec] = []
        current: TypeSpec | None = start
        while current is not None and id(current) not in state:
            state[id(current)] = 1
            walk.append(current)
            parent = current.parent
            current = index.by_name.get(parent.value) if parent is not None else None
        if current is not None and state[id(current)] == 1:
            found.append(walk[walk.index(current) :])
        for item in walk:
            state[id(item)] = 2
    return found
