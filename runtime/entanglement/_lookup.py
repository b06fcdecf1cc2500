"""Which class and registry a received ``_sync_type`` names (§9 step 4, §5.2).

* :func:`default_registries`: a manager's lookup order (quirks 23, 24): the given
  registries in order, then inherited ones, then the error registry.
* :func:`find_syncable`: the first registry knowing the name; when several hold
  *different* classes under it (a memory and an SQL registry both have a
  ``SyncOwner``, §12.3 and §13), the message decides (:func:`best_fit`), so both work
  side by side on one manager whatever the order of the registries (issue 10 item 6;
  §13 says the two cannot be mixed, we prefer that they can).
"""

from __future__ import annotations

from typing import Any

from entanglement._codecplan import known_keys_of
from entanglement._registry import SyncRegistry
from entanglement._sansio.peertext import peer_repr
from entanglement.interface import UnregisteredSyncClass, error_registry

__all__ = ["best_fit", "default_registries", "find_syncable", "syncable_candidates"]


def find_syncable(
    registries: list[SyncRegistry], sync_type: str, msg: dict[str, Any] | None = None
) -> tuple[Any, SyncRegistry]:
    """``(class, registry)`` for ``sync_type``; ``msg`` decides between several.

    Raises:
        UnregisteredSyncClass: no registry knows ``sync_type``.
    """
    candidates = syncable_candidates(registries, sync_type)
    if not candidates:
        raise UnregisteredSyncClass(
            f"sync_type {peer_repr(sync_type)} is not registered here"
        )
    if len(candidates) == 1 or msg is None:
        return candidates[0]
    return best_fit(candidates, msg)


def syncable_candidates(
    registries: list[SyncRegistry], sync_type: str
) -> list[tuple[Any, SyncRegistry]]:
    """Every ``(class, registry)`` knowing ``sync_type``, one per class, in order."""
    found: list[tuple[Any, SyncRegistry]] = []
    for registry in registries:
        cls = registry.registry.get(sync_type)
        if cls is not None and not any(cls is c for c, _ in found):
            found.append((cls, registry))
    return found


def best_fit(
    candidates: list[tuple[Any, SyncRegistry]], msg: dict[str, Any]
) -> tuple[Any, SyncRegistry]:
    """The candidate class a message's attributes belong to (issue 10 item 6).

    A class fits when it declares every attribute of the message; of those, the one
    with the fewest declared attributes the message lacks wins (a memory SyncOwner
    message, ``_sync_owner`` alone, fits the SQL SyncOwner too, which would lack
    ``id``, ``type``, ``epoch`` and ``sync_serial``); ties go to registry order.  When
    none fits, the first one is used (its fill names the stray attribute).
    """
    best: tuple[Any, SyncRegistry] | None = None
    best_missing = 0
    for cls, registry in candidates:
        if not known_keys_of(cls).issuperset(msg):
            continue
        missing = sum(
            1 for name in cls._sync_properties if name[:1] != "_" and name not in msg
        )
        if best is None or missing < best_missing:
            best, best_missing = (cls, registry), missing
    return best if best is not None else candidates[0]


def default_registries(given: list[SyncRegistry]) -> list[SyncRegistry]:
    """Given registries in order, then inherited ones, then the error registry."""
    ordered: list[SyncRegistry] = []
    for registry in given:
        if not any(registry is r for r in ordered):
            ordered.append(registry)
    for registry in list(ordered):
        for inherited in getattr(registry, "inherited_registries", ()):
            if not any(inherited is r for r in ordered):
                ordered.append(inherited)
    if not any(error_registry is r for r in ordered):
        ordered.append(error_registry)
    return ordered
