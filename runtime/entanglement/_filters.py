"""The filters of §14: one opinion per object, and the candidates for an initial send.

A filter answers True (recommend), False (veto) or None (no opinion) for an object;
``all_objects()`` lists what it knows of, for the initial send of a newly connected
peer.  How destinations combine the opinions, remember what they sent and withdraw
what stops passing is :mod:`entanglement.filter`, which re-exports these classes (their
public path).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["Filter", "FilterBase", "SyncOwnerFilter"]


class FilterBase:
    """One opinion about which objects a destination may see.

    Args:
        order: evaluation order; lower runs first.

    Attributes:
        attachment: the destination this filter is attached to (set by ``add_filter``).
        dynamic: True when the filter may pass objects ``all_objects()`` does not list.
    """

    dynamic = False

    def __init__(self, order: int = 100) -> None:
        self.order = order
        self.attachment: Any = None

    def should_send(self, obj: Any, **info: Any) -> bool | None:
        """True recommends sending ``obj``, False vetoes it, None has no opinion."""
        return None

    def all_objects(self) -> Iterable[Any]:
        """The candidates for the initial send; NotImplementedError if unknown."""
        raise NotImplementedError(f"{type(self).__name__} cannot enumerate objects")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} order={self.order}>"


class Filter(FilterBase):
    """A filter from a predicate, limited to one class or to one registry's classes.

    Args:
        fn: ``fn(obj) -> bool | None``, asked for objects in scope.
        store: where ``all_objects()`` enumerates from (a mapping of key → object).
        type: only objects of this class (or a subclass) are in scope.
        registry: only objects whose ``sync_type`` this registry knows are in scope;
            without ``store``, ``all_objects()`` enumerates its stores.
        order: evaluation order.
    """

    def __init__(
        self,
        fn: Callable[[Any], bool | None],
        *,
        store: Any = None,
        type: type | None = None,
        registry: Any = None,
        order: int = 100,
    ) -> None:
        super().__init__(order)
        self.fn = fn
        self.store = store
        self.type = type
        self.registry = registry

    def in_scope(self, obj: Any) -> bool:
        """True when this filter has an opinion about ``obj`` at all."""
        if self.type is not None and not isinstance(obj, self.type):
            return False
        if self.registry is not None:
            return getattr(obj, "sync_type", None) in self.registry.registry
        return True

    def should_send(self, obj: Any, **info: Any) -> bool | None:
        """``fn(obj)`` for objects in scope, None for the others."""
        return self.fn(obj) if self.in_scope(obj) else None

    def all_objects(self) -> Iterable[Any]:
        """The objects of ``store``, else of every store of ``registry``."""
        if self.store is not None:
            return list(self.store.values())
        stores = getattr(self.registry, "stores", None)
        if stores is None:
            return super().all_objects()
        return [obj for store in list(stores.values()) for obj in store.values()]


class SyncOwnerFilter(FilterBase):
    """Recommends every owner record, so that owners reach the peer before their objects.

    Args:
        registry: whose owner store ``all_objects()`` enumerates (a memory registry).
        order: evaluation order (1: before the filters of the objects).
    """

    def __init__(self, registry: Any = None, *, order: int = 1) -> None:
        super().__init__(order)
        self.registry = registry

    def should_send(self, obj: Any, **info: Any) -> bool | None:
        """True for owners, None for anything else."""
        return True if getattr(obj, "sync_type", None) == "SyncOwner" else None

    def all_objects(self) -> Iterable[Any]:
        """The registry's owner store."""
        owners = getattr(self.registry, "owners", None)
        if owners is None:
            return super().all_objects()
        return list(owners.values())
