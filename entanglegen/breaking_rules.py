"""Rules of ``entanglegen breaking`` for registries, operations, enums and types.

:func:`compare` matches the old and the new side and lists every :class:`Change`.
Matching (:mod:`entanglegen.breaking_match`), so that moves and declared renames are not
reported as removals:

* registries by registry name (the file may move or be renamed: not a change); an old and
  a new registry left over with the same package (else the same file name) are one
  registry renamed;
* types by name inside their registry, else a new type's ``renamed_from`` names the old
  one; properties likewise inside their type; named enums by name;
* a type's parent and key are compared through those matches, so renaming a key property
  reports the rename, not a new key.

Property rules and the meaning of the categories are in :mod:`entanglegen.breaking_props`;
table options, decimals, lists and maps in :mod:`entanglegen.breaking_options`; navigation
attributes in :mod:`entanglegen.breaking_navigation`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .breaking_match import (
    match_registries,
    match_types,
    matched_properties,
    places,
    renames,
)
from .breaking_model import Project, RegistryFacts, TypeFacts
from .breaking_navigation import compare_navigation
from .breaking_options import constraints
from .breaking_props import API, SQL, WIRE, Emit, added, changed, enum_values, removed
from .diagnostics import Loc

__all__ = ["RULES", "Change", "compare"]

# Every rule and the categories it can carry (fewer where one cannot apply); () = safe.
RULES: dict[str, tuple[str, ...]] = {
    "REGISTRY_ADDED": (),
    "REGISTRY_REMOVED": (WIRE, SQL, API),
    "REGISTRY_RENAMED": (API,),
    "PACKAGE_RENAMED": (API,),
    "STORAGE_CHANGED": (WIRE, SQL, API),
    "OPERATION_ADDED": (),
    "OPERATION_REMOVED": (WIRE,),
    "ENUM_ADDED": (),
    "ENUM_REMOVED": (API,),
    "ENUM_VALUE_ADDED": (WIRE, SQL),
    "ENUM_VALUE_REMOVED": (WIRE, SQL, API),
    "ENUM_VALUE_RENAMED": (WIRE, SQL, API),
    "TYPE_ADDED": (),
    "TYPE_REMOVED": (WIRE, SQL, API),
    "TYPE_RENAMED": (API,),
    "SYNC_TYPE_CHANGED": (WIRE,),
    "TABLE_RENAMED": (SQL,),
    "PARENT_CHANGED": (WIRE, SQL, API),
    "PRIMARY_KEY_CHANGED": (WIRE, SQL, API),
    "PRIORITY_CHANGED": (),
    "PROPERTY_ADDED_REQUIRED": (WIRE, SQL, API),
    "PROPERTY_ADDED_NULLABLE": (WIRE,),
    "PROPERTY_ADDED_DEFAULTED": (WIRE,),
    "PROPERTY_ADDED_NO_SYNC": (),
    "PROPERTY_REMOVED": (WIRE, SQL, API),
    "PROPERTY_RENAMED": (SQL, API),
    "WIRE_NAME_CHANGED": (WIRE,),
    "PROPERTY_SYNC_CHANGED": (WIRE,),
    "PROPERTY_TYPE_WIDENED": (WIRE, SQL, API),
    "PROPERTY_TYPE_NARROWED": (WIRE, SQL, API),
    "PROPERTY_TYPE_CHANGED": (WIRE, SQL, API),
    "REFERENCE_TARGET_CHANGED": (WIRE, SQL, API),
    "PROPERTY_LENGTH_WIDENED": (WIRE, SQL),
    "PROPERTY_LENGTH_NARROWED": (WIRE, SQL),
    "PROPERTY_MADE_NULLABLE": (WIRE, SQL, API),
    "PROPERTY_MADE_REQUIRED": (WIRE, SQL, API),
    "PROPERTY_DEFAULT_ADDED": (),
    "PROPERTY_DEFAULT_REMOVED": (API,),
    "PROPERTY_DEFAULT_CHANGED": (API,),
    "ENCODER_CHANGED": (WIRE,),
    # table options and exact types (entanglegen.breaking_options)
    "PROPERTY_DIGITS_WIDENED": (WIRE, SQL),
    "PROPERTY_DIGITS_NARROWED": (WIRE, SQL),
    "UNIQUE_ADDED": (WIRE, SQL),
    "UNIQUE_REMOVED": (),
    "CHECK_ADDED": (WIRE, SQL),
    "CHECK_CHANGED": (WIRE, SQL),
    "CHECK_REMOVED": (),
    "INDEX_ADDED": (),
    "INDEX_REMOVED": (),
    "SERVER_DEFAULT_CHANGED": (),
    "ONUPDATE_CHANGED": (),
    # navigation attributes (entanglegen.breaking_navigation)
    "NAVIGATION_ADDED": (),
    "NAVIGATION_REMOVED": (API,),
    "NAVIGATION_CHANGED": (API,),
}


@dataclass(frozen=True, slots=True)
class Change:
    """One difference; ``categories`` empty means it breaks nothing."""

    rule: str
    registry: str
    subject: str
    loc: Loc
    message: str
    categories: tuple[str, ...]

    @property
    def breaking(self) -> bool:
        return bool(self.categories)

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.loc.path, self.loc.line, self.loc.col, self.rule, self.subject)


class _Collector:
    def __init__(self, renames: dict[str, str]) -> None:
        self.changes: list[Change] = []
        self.renames = renames  # old "registry.Name" -> new, for types and enums

    def emitter(self, registry: str, *, sql: bool, wire: bool = True) -> Emit:
        """An emit function that drops the categories that cannot apply here."""

        def emit(
            rule: str, subject: str, loc: Loc, message: str, cats: tuple[str, ...]
        ) -> None:
            assert set(cats) <= set(RULES[rule]), rule
            kept = tuple(c for c in cats if (c != SQL or sql) and (c != WIRE or wire))
            self.changes.append(Change(rule, registry, subject, loc, message, kept))

        return emit


def compare(old: Project, new: Project) -> list[Change]:
    """Every change from ``old`` to ``new`` (both resolved without errors), sorted."""
    out = _Collector(renames(old, new))
    pairs = match_registries(old.registries, new.registries)
    for before, after in pairs:
        if before is None and after is not None:
            out.emitter(after.name, sql=False)(
                "REGISTRY_ADDED",
                after.name,
                after.loc,
                f"registry {after.name} added",
                (),
            )
        elif after is None and before is not None:
            out.emitter(before.name, sql=before.storage == "sql")(
                "REGISTRY_REMOVED",
                before.name,
                before.loc,
                f"registry {before.name} removed with its types "
                f"({', '.join(before.types)})",
                (WIRE, SQL, API),
            )
        elif before is not None and after is not None:
            _registry(out, before, after)
    return sorted(out.changes, key=Change.sort_key)


def _registry(out: _Collector, old: RegistryFacts, new: RegistryFacts) -> None:
    sql = old.storage == "sql" and new.storage == "sql"
    emit = out.emitter(new.name, sql=sql)
    if old.name != new.name:
        emit(
            "REGISTRY_RENAMED",
            new.name,
            new.loc,
            f"registry {old.name} renamed to {new.name} (its registry class and the "
            "references other files write change)",
            (API,),
        )
    if old.package != new.package:
        emit(
            "PACKAGE_RENAMED",
            new.name,
            new.package_loc,
            f"package {old.package} renamed to {new.package}: imports break",
            (API,),
        )
    if old.storage != new.storage:
        out.emitter(new.name, sql=True)(
            "STORAGE_CHANGED",
            new.name,
            new.loc,
            f"storage of registry {new.name} changed from {old.storage} to "
            f"{new.storage}: another base class, store and wire behaviour",
            (WIRE, SQL, API),
        )
    _operations(emit, old, new)
    _enums(out.emitter(new.name, sql=sql), old, new)
    _types(out, sql, old, new)
    compare_navigation(
        emit,
        old.navigation,
        new.navigation,
        {before.name: after.name for before, after in match_types(old, new)},
        places(new),
    )


def _operations(emit: Emit, old: RegistryFacts, new: RegistryFacts) -> None:
    for name, loc in old.operations.items():
        if name not in new.operations:
            emit(
                "OPERATION_REMOVED",
                f"{new.name}.{name}",
                loc,
                f"operation {name!r} removed from registry {new.name}: peers sending it "
                "get errors",
                (WIRE,),
            )
    for name, loc in new.operations.items():
        if name not in old.operations:
            emit(
                "OPERATION_ADDED",
                f"{new.name}.{name}",
                loc,
                f"operation {name!r} added to registry {new.name}",
                (),
            )


def _enums(emit: Emit, old: RegistryFacts, new: RegistryFacts) -> None:
    for name, enum in old.enums.items():
        if name not in new.enums:
            emit(
                "ENUM_REMOVED",
                name,
                enum.loc,
                f"enum {name} removed (its class is gone)",
                (API,),
            )
    for name, enum in new.enums.items():
        before = old.enums.get(name)
        if before is None:
            emit("ENUM_ADDED", name, enum.loc, f"enum {name} added", ())
        else:
            enum_values(emit, name, enum.loc, before.values, enum.values)


def _types(out: _Collector, sql: bool, old: RegistryFacts, new: RegistryFacts) -> None:
    emit = out.emitter(new.name, sql=sql)
    pairs = match_types(old, new)
    renames = {before.name: after.name for before, after in pairs}
    matched_new = set(renames.values())
    for name, spec in old.types.items():
        if name not in renames:
            emit(
                "TYPE_REMOVED",
                name,
                spec.loc,
                f"type {name} removed: new peers refuse its messages, its table and "
                "class are gone",
                (WIRE, SQL, API),
            )
    for name, spec in new.types.items():
        if name not in matched_new:
            emit("TYPE_ADDED", name, spec.loc, f"type {name} added", ())
    for before, after in pairs:
        _type(out, sql, new.name, renames, before, after)


def _type(
    out: _Collector,
    sql: bool,
    registry: str,
    renames: dict[str, str],
    old: TypeFacts,
    new: TypeFacts,
) -> None:
    emit = out.emitter(registry, sql=sql)
    name, loc = new.name, new.loc
    if old.name != name:
        emit(
            "TYPE_RENAMED",
            name,
            loc,
            f"type {old.name} renamed to {name} (class {old.class_name} → "
            f"{new.class_name})",
            (API,),
        )
    if old.sync_type != new.sync_type:
        why = (
            " (renamed_from was removed)"
            if old.renamed_from and not new.renamed_from
            else ""
        )
        emit(
            "SYNC_TYPE_CHANGED",
            name,
            loc,
            f"wire name of {name} changes from {old.sync_type!r} to "
            f"{new.sync_type!r}{why}: peers on the other schema refuse its messages",
            (WIRE,),
        )
    if old.table != new.table and old.table and new.table:
        emit(
            "TABLE_RENAMED",
            name,
            loc,
            f"table of {name} renamed from {old.table} to {new.table}",
            (SQL,),
        )
    if renames.get(old.parent, old.parent) != new.parent:
        emit(
            "PARENT_CHANGED",
            name,
            loc,
            f"parent of {name} changed from {old.parent or 'none'} to "
            f"{new.parent or 'none'}: inherited properties, key and tables change",
            (WIRE, SQL, API),
        )
    if old.priority != new.priority:
        emit(
            "PRIORITY_CHANGED",
            name,
            loc,
            f"priority of {name} changed from {old.priority} to {new.priority}",
            (),
        )
    props = matched_properties(old, new)
    _properties(out, sql, registry, old, new, props)
    constraints(emit, name, old, new, props)


def _properties(
    out: _Collector,
    sql: bool,
    registry: str,
    old: TypeFacts,
    new: TypeFacts,
    props: dict[str, str],
) -> None:
    emit = out.emitter(registry, sql=sql)
    local = out.emitter(registry, sql=sql, wire=False)  # neither side sends it
    for name, prop in old.props.items():
        if name not in props:
            removed(emit if prop.sync else local, new.name, prop)
    store_rest = old.unknown_properties == "store_rest"
    for name, prop in new.props.items():
        if name not in props.values():
            added(emit if prop.sync else local, new.name, prop, store_rest=store_rest)
    for before_name, after_name in props.items():
        before, after = old.props[before_name], new.props[after_name]
        if before == after:
            continue
        if before.target in out.renames or before.enum in out.renames:
            # Compare references and enums through renames of their registry or type.
            before = replace(
                before,
                target=out.renames.get(before.target, before.target),
                enum=out.renames.get(before.enum, before.enum),
            )
        changed(emit if before.sync or after.sync else local, new.name, before, after)
    if not new.parent and not old.parent:
        key = tuple(props.get(k, k) for k in old.key)
        if key != new.key:
            emit(
                "PRIMARY_KEY_CHANGED",
                new.name,
                new.key_loc,
                f"primary key of {new.name} changed from {', '.join(old.key)} to "
                f"{', '.join(new.key)}: objects are identified differently",
                (WIRE, SQL, API),
            )
