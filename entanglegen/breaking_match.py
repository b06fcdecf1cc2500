"""How ``entanglegen breaking`` matches the old side with the new one.

Registries by name, else an old and a new one left over with the same package (else the
same file name) are one registry renamed; types by name inside their registry, else a
new type's ``renamed_from`` names the old one; properties likewise inside their type.
Moving or renaming a file is therefore not a change.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from .breaking_model import Project, RegistryFacts, TypeFacts
from .diagnostics import Loc

__all__ = [
    "match_registries",
    "match_types",
    "matched_properties",
    "places",
    "renamed_registry",
    "renames",
]


def renames(old: Project, new: Project) -> dict[str, str]:
    """Old qualified type and enum names to new ones, across registry and type renames."""
    names: dict[str, str] = {}
    for before, after in match_registries(old.registries, new.registries):
        if before is None or after is None:
            continue
        for enum in before.enums:
            names[f"{before.name}.{enum}"] = f"{after.name}.{enum}"
        for old_type, new_type in match_types(before, after):
            names[f"{before.name}.{old_type.name}"] = f"{after.name}.{new_type.name}"
    return names


def match_registries(
    old: dict[str, RegistryFacts], new: dict[str, RegistryFacts]
) -> list[tuple[RegistryFacts | None, RegistryFacts | None]]:
    """Pairs of old and new registries; ``None`` on the side where one is missing."""
    pairs: list[tuple[RegistryFacts | None, RegistryFacts | None]] = [
        (old[n], new[n]) for n in new if n in old
    ]
    gone = [r for n, r in old.items() if n not in new]
    for name, reg in new.items():
        if name not in old:
            before = renamed_registry(gone, reg)
            if before is not None:
                gone.remove(before)
            pairs.append((before, reg))
    pairs += [(reg, None) for reg in gone]
    return pairs


def renamed_registry(
    gone: list[RegistryFacts], reg: RegistryFacts
) -> RegistryFacts | None:
    """The old registry a new one renames: same package, else same file name."""
    for same in (
        lambda r: r.package == reg.package,
        lambda r: PurePosixPath(r.path).name == PurePosixPath(reg.path).name,
    ):
        found = [r for r in gone if same(r)]
        if len(found) == 1:
            return found[0]
    return None


def match_types(
    old: RegistryFacts, new: RegistryFacts
) -> list[tuple[TypeFacts, TypeFacts]]:
    """The (old, new) types of two matched registries that are one type."""
    pairs = []
    for name, spec in new.types.items():
        if name in old.types:
            pairs.append((old.types[name], spec))
        elif spec.renamed_from in old.types and spec.renamed_from not in new.types:
            pairs.append((old.types[spec.renamed_from], spec))
    return pairs


def matched_properties(old: TypeFacts, new: TypeFacts) -> dict[str, str]:
    """Old property name -> new, by name or by the new one's ``renamed_from``."""
    props: dict[str, str] = {}
    for name, prop in new.props.items():
        if name in old.props:
            props[name] = name
        elif prop.renamed_from in old.props and prop.renamed_from not in new.props:
            props[prop.renamed_from] = name
    return props


def places(reg: RegistryFacts) -> dict[str, Loc]:
    """Where each ``Type`` and ``Type.prop`` of ``reg`` is written."""
    found = {name: spec.loc for name, spec in reg.types.items()}
    for name, spec in reg.types.items():
        found.update({f"{name}.{p}": prop.loc for p, prop in spec.props.items()})
    return found
