"""Rules of ``entanglegen breaking`` for navigation attributes (SQL registries).

``navigate``, ``back`` and ``many_to_many`` only generate Python attributes: a
``relationship()`` has no column and never travels (the key beside it does), so their
changes are never WIRE or SQL.  Each attribute is a fact of the class that carries it
(``back`` lands on the referenced type, ``many_to_many`` on both ends of the
association), matched by that class (through type renames) and the attribute's name:

* added: safe;
* removed (or renamed, which removes the old name): API, code using it breaks;
* changed (the same attribute now holds or lists another type, or one object instead of
  a list): API.

The attributes of a class added or removed are not reported one by one: ``TYPE_ADDED``
and ``TYPE_REMOVED`` say it; a ``back`` that a new or removed type puts on a type that
stays is.

A renamed reference property keeps its navigation: the attribute's name is what code
uses, not the key's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .diagnostics import Loc
from .spec import RegistrySpec, TypeSpec

if TYPE_CHECKING:  # breaking_model builds these facts: a runtime import would cycle
    from .breaking_options import Emit

__all__ = ["NavFacts", "compare_navigation", "navigation"]

API = "API"


@dataclass(frozen=True, slots=True)
class NavFacts:
    """One navigation attribute: ``carrier.attr`` holds ``target`` (a list if ``many``),
    declared by ``source`` (``Type.prop``) in type ``declared_in``, at ``loc``."""

    carrier: str
    attr: str
    target: str
    many: bool
    source: str
    declared_in: str
    loc: Loc

    def shape(self) -> str:
        return f"a list of {self.target}" if self.many else f"one {self.target}"


def navigation(reg: RegistrySpec) -> tuple[NavFacts, ...]:
    """Every navigation attribute the types of ``reg`` declare (none in memory)."""
    if reg.storage != "sql":
        return ()
    found: list[NavFacts] = []
    for spec in reg.types:
        found += _of_references(spec)
        found += _of_association(spec)
    return tuple(found)


def _of_references(spec: TypeSpec) -> list[NavFacts]:
    found = []
    for prop in spec.properties:
        res, source = prop.resolved, f"{spec.name}.{prop.name}"
        if res is None or res.kind != "ref" or prop.navigate is None:
            continue
        nav = prop.navigate
        found.append(
            NavFacts(
                spec.name, nav.value, res.target, False, source, spec.name, nav.loc
            )
        )
        if prop.back is not None:
            back = prop.back
            found.append(
                NavFacts(
                    res.target, back.value, spec.name, True, source, spec.name, back.loc
                )
            )
    return found


def _of_association(spec: TypeSpec) -> list[NavFacts]:
    """``many_to_many: {a: x, b: y}``: ``A.x`` lists the B objects, ``B.y`` the As."""
    ends = {}
    for prop in spec.properties:
        res = prop.resolved
        if prop.name in spec.many_to_many and res is not None and res.kind == "ref":
            ends[prop.name] = res.target
    if len(ends) != 2:
        return []
    (a, a_target), (b, b_target) = ends.items()
    found = []
    for this, carrier, other in ((a, a_target, b_target), (b, b_target, a_target)):
        attr = spec.many_to_many[this]
        source = f"{spec.name}.{this}"
        found.append(
            NavFacts(carrier, attr.value, other, True, source, spec.name, attr.loc)
        )
    return found


def compare_navigation(
    emit: Emit,
    old: tuple[NavFacts, ...],
    new: tuple[NavFacts, ...],
    types: dict[str, str],
    places: dict[str, Loc],
) -> None:
    """Navigation changes of one registry; ``types``: old type name → new for the types
    on both sides (renames), ``places``: where each ``Type`` and ``Type.prop`` of the new
    side is (a removal is reported at the declaring property, else its type, else the
    type that carried it, in the new file).  The attributes of a type added or removed go with its ``TYPE_ADDED`` or
    ``TYPE_REMOVED``; a ``back`` it puts on a type that stays is reported."""

    def moved(n: NavFacts) -> NavFacts:
        carrier, target = types.get(n.carrier, n.carrier), types.get(n.target, n.target)
        return NavFacts(carrier, n.attr, target, n.many, n.source, n.declared_in, n.loc)

    kept = set(types.values())  # a type added or removed is reported as such
    before = {(n.carrier, n.attr): n for n in map(moved, old) if n.carrier in kept}
    after = {(n.carrier, n.attr): n for n in new if n.carrier in kept}
    for key, n in after.items():
        was = before.get(key)
        subject = f"{n.carrier}.{n.attr}"
        if was is None:
            emit(
                "NAVIGATION_ADDED",
                subject,
                n.loc,
                f"navigation attribute {subject} added ({n.shape()}, through "
                f"{n.source})",
                (),
            )
        elif (was.target, was.many) != (n.target, n.many):
            emit(
                "NAVIGATION_CHANGED",
                subject,
                n.loc,
                f"navigation attribute {subject} now holds {n.shape()} (was "
                f"{was.shape()}): code using it gets another type",
                (API,),
            )
    for key, n in before.items():
        if key not in after:
            declared = types.get(n.declared_in, n.declared_in)
            prop = n.source.partition(".")[2]
            loc = places.get(f"{declared}.{prop}") or places.get(declared)
            loc = loc or places.get(n.carrier, n.loc)
            emit(
                "NAVIGATION_REMOVED",
                f"{n.carrier}.{n.attr}",
                loc,
                f"navigation attribute {n.carrier}.{n.attr} removed ({n.shape()}, "
                f"through {n.source}): code using it breaks",
                (API,),
            )
