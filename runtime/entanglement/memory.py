"""In-memory stores and registries (§13).

* :class:`AbstractSyncStore` / :class:`SyncStore`: a read-only mapping (plus ``add``,
  ``remove``, ``del``) of the objects of one class family, keyed by primary key (the value,
  or a tuple for several keys); lookups accept a key or an object.
* :class:`SyncOwner`: the in-memory owner record; wire form
  ``{"_sync_owner": "<uuid>", "_sync_type": "SyncOwner"}``.  Same wire name as the SQL
  SyncOwner but another attribute set.  A manager may carry both registries (issue 10
  item 6): a received ``SyncOwner`` goes to the class its attributes belong to (see
  :mod:`entanglement._lookup`), a sent one uses its own class's registry.
* :class:`SyncStoreRegistry`: registers ``sync``, ``forward``, ``create``, ``delete`` and
  the in-memory ``SyncOwner``; keeps one store per class (``sync_store_with`` shares one).
* :class:`StoreInSyncStoreMixin`: objects that live in their registry's stores.

Choices and fixed quirks:

* As in the original, ``obj._sync_owner = <uuid>`` may name an owner that is not stored
  yet: the id is kept and resolved once that owner is known; ``store_synchronize`` of such
  an object makes it a local owner (stored and announced) if no peer sent it meanwhile.

* Quirk 52 fixed: ``sync_context`` yields a :class:`StoreContext` whose ``owner`` the mixin
  sets while constructing, so ``create`` works in memory; ``associate_with_manager`` sets
  ``manager`` (weakly).
* Receiving never leaves stored data changed by a message that fails: the values a
  message overwrites in a stored object are saved and put back when processing raises
  after the fill (an ``incoming_<op>`` hook refusing it, a relay failing).
* Receiving never touches stored data before the checks pass: new objects are stored by
  ``incoming_sync`` / ``incoming_create`` only, and a ``forward`` or ``delete`` passing
  through a node that does not own the object is received into a detached copy, so an
  unaccepted proposal never changes the relay's replica.  An existing object whose owner
  differs from the message's is refused (``SyncBadOwner``): ownership cannot change.
* ``incoming_delete`` removes the object when we own it (a granted request) or when the
  delete comes from the owner's direction; a delete of an object that is not here is
  refused with ``SyncNotFound`` (as the SQL layer does), which is what stops a delete
  flood from circling forever around a cycle of nodes.  ``incoming_forward`` at the
  owner refuses an unknown object (``SyncNotFound``: forward cannot create);
  ``incoming_create`` at the owner refuses a key that is already taken
  (``SyncUnauthorized``).
* ``manager.synchronize(obj)`` of a :class:`StoreInSyncStoreMixin` object without an
  owner raises ValueError at once, naming the object and what to do (issue 10 item
  9): its peers would refuse it (``_sync_owner is required``).
  ``registry.store_synchronize(obj)`` gives it the local owner, stores it and sends
  the owner first.
* Objects of classes with ``sync_primary_keys = Unique`` are events: they go through the
  operations and hooks but are never stored (they have no key).
* As in the original a received owner is not flooded further.  Peers accept an object
  only once they know its owner, so ``store_synchronize`` sends the local owner to each
  connection once, before the first object it sends there (priority 2 makes the owner
  leave the queue before objects, priority 100; an object of a more urgent priority
  takes the owner with it to that priority, so the owner leaves first whatever the
  priorities, issue 10 item 7).  Which connections had which owner is remembered per
  connection object, weakly (:class:`~entanglement._stores.OwnerAnnouncer`): a peer
  connecting later, or a reconnect (a new connection object), gets the owner again,
  and high-rate updates (cursors) cost one frame per update, not two.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from ._model import EphemeralUnflooded, Synchronizable
from ._properties import sync_property
from ._registry import SyncRegistry
from ._stores import (
    AbstractSyncStore,
    OwnerAnnouncer,
    StoreContext,
    SyncOwner,
    SyncStore,
    is_storable,
    owner_id_from_msg,
)
from ._wire_errors import (
    SyncBadEncodingError,
    SyncBadOwner,
    SyncNotFound,
    SyncUnauthorized,
)
from .operations import create, delete, forward, sync
from .types import uuid_decoder
from .util import memoproperty

__all__ = [
    "AbstractSyncStore",
    "StoreContext",
    "StoreInSyncStoreMixin",
    "SyncOwner",
    "SyncStore",
    "SyncStoreRegistry",
]


class SyncStoreRegistry(SyncRegistry):
    """A registry whose objects live in in-memory stores, one per class family.

    Args:
        sync_store_factory: callable returning a new empty store (default SyncStore).
    """

    def __init__(
        self, sync_store_factory: Callable[[], AbstractSyncStore] | None = None
    ) -> None:
        super().__init__()
        self.sync_store_factory = sync_store_factory or SyncStore
        self.stores: dict[type, AbstractSyncStore] = {}
        self._owner_announcer = OwnerAnnouncer()
        for op in (sync, forward, create, delete):
            self.register_operation(op.name, op)
        self.register_syncable("SyncOwner", SyncOwner)

    def store_for_class(self, cls: type) -> AbstractSyncStore:
        """The store of ``cls`` (shared with ``cls.sync_store_with`` when set)."""
        root, seen = cls, {cls}
        while (other := getattr(root, "sync_store_with", None)) is not None:
            if other in seen:
                break
            seen.add(other)
            root = other
        store = self.stores.get(root)
        if store is None:
            store = self.stores[root] = self.sync_store_factory()
        return store

    @property
    def owners(self) -> AbstractSyncStore:
        """The store of SyncOwner records."""
        return self.store_for_class(SyncOwner)

    def add_to_store(self, obj: Synchronizable) -> None:
        """Store ``obj`` in the store of its class (``Unique`` events are not stored)."""
        if is_storable(type(obj)):
            self.store_for_class(type(obj)).add(obj)

    def remove_from_store(self, obj: Synchronizable) -> None:
        """Remove ``obj`` (by its key) from the store of its class."""
        if is_storable(type(obj)):
            self.store_for_class(type(obj)).remove(obj)

    def get_or_create(self, cls: type[Synchronizable], *keys: Any) -> Any:
        """Return the stored object with these key values, else construct and store one.

        Args:
            cls: the class; it is constructed with the keys as keyword arguments (or,
                without an ``__init__`` of its own, constructed empty and assigned).
            *keys: one value per name of ``cls.sync_primary_keys``.
        """
        names = tuple(cls.sync_primary_keys)
        if len(keys) != len(names):
            raise TypeError(f"{cls.__name__} has keys {names}, got {len(keys)} values")
        store = self.store_for_class(cls)
        existing = store.get(keys[0] if len(keys) == 1 else keys)
        if existing is not None:
            return existing
        values = dict(zip(names, keys, strict=True))
        if cls.__init__ is object.__init__:
            obj = cls()
            for name, value in values.items():
                setattr(obj, name, value)
        else:
            obj = cls(**values)
        store.add(obj)
        return obj

    @memoproperty
    def local_owner(self) -> SyncOwner:
        """The first local SyncOwner in the store, else a new one (stored and sent)."""
        for owner in self.owners.values():
            if owner.dest_hash is None:
                found: SyncOwner = owner
                return found
        owner = SyncOwner()
        self.owners.add(owner)
        if self.manager is not None:
            self._owner_announcer.announce(self.manager, owner)
        return owner

    def store_synchronize(self, obj: Synchronizable, **kwargs: Any) -> Any:
        """Give ``obj`` the local owner if it has none, store it, and send it.

        Sending happens only when ``manager`` is set; ``kwargs`` go to
        ``manager.synchronize``.  Returns what ``synchronize`` returns (or None).
        """
        if getattr(obj, "sync_owner", None) in (None, EphemeralUnflooded):
            obj.sync_owner = self._owner_for_pending(obj)
        self.add_to_store(obj)
        manager = self.manager
        if manager is None:
            return None
        owner = obj.sync_owner
        if isinstance(owner, SyncOwner) and owner.dest_hash is None:
            if "exclude" in kwargs:  # read twice below: an iterator would run dry
                kwargs["exclude"] = list(kwargs["exclude"])
            if kwargs.get("destinations") is not None:
                kwargs["destinations"] = list(kwargs["destinations"])
            priority = kwargs.get("priority")
            if priority is None:
                priority = obj.sync_priority
            self._owner_announcer.announce(
                manager,
                owner,
                kwargs.get("destinations"),
                kwargs.get("exclude", ()),
                priority,
            )
        return manager.synchronize(obj, **kwargs)

    def _owner_for_pending(self, obj: Synchronizable) -> SyncOwner:
        """The owner of an object that has none: the one its assigned id names (made a
        local owner here when no peer sent it), else the local owner."""
        pending = vars(obj).pop("_sync_owner_pending", None)
        if pending is None:
            return self.local_owner
        owner = self.owners.get(pending)
        if isinstance(owner, SyncOwner):
            return owner
        owner = SyncOwner(pending)
        self.owners.add(owner)
        return owner

    def sync_context(self, **info: Any) -> AbstractContextManager[Any]:
        """Yield a fresh :class:`StoreContext` (its ``owner`` is set on construction).

        If processing fails after a stored object was filled from the message (e.g. an
        ``incoming_<op>`` hook refuses it), the object's previous values are restored.
        """
        return StoreContext()

    def incoming_sync(self, obj: Synchronizable, **info: Any) -> None:
        """Store the accepted object (owners included)."""
        self.add_to_store(obj)

    def incoming_forward(self, obj: Synchronizable, **info: Any) -> None:
        """At the owner, a forward must name an existing object."""
        if not is_storable(type(obj)):
            return
        if obj.sync_is_local and self.store_for_class(type(obj)).get(obj) is not obj:
            raise SyncNotFound(
                f"forward: no such {obj.sync_type} here (forward cannot create)"
            )

    def incoming_create(self, obj: Synchronizable, **info: Any) -> None:
        """At the owner, store the new object (its key must be free)."""
        if not obj.sync_is_local or not is_storable(type(obj)):
            return
        if self._stored(obj, "create"):
            raise SyncUnauthorized(
                f"create of {obj.sync_type}: that key already exists"
            )
        self.store_for_class(type(obj)).add(obj)

    def _stored(self, obj: Synchronizable, what: str) -> bool:
        try:
            return obj in self.store_for_class(type(obj))
        except AttributeError as exc:
            raise SyncBadEncodingError(
                f"{what} of {obj.sync_type}: no primary key assigned ({exc})"
            ) from exc

    def incoming_delete(self, obj: Synchronizable, **info: Any) -> None:
        """Remove the object when we own it or the delete comes from the owner's side.

        Raises:
            SyncNotFound: the object is not (or no longer) here; this is what ends a
                delete flood going around a cycle of nodes.
        """
        if is_storable(type(obj)) and not self._stored(obj, "delete"):
            raise SyncNotFound(f"delete: no such {obj.sync_type} here")
        owner_hash = getattr(obj.sync_owner, "dest_hash", None)
        sender_hash = getattr(info.get("sender"), "dest_hash", None)
        if obj.sync_is_local or (owner_hash is not None and owner_hash == sender_hash):
            # By key: at a replica the message was received into a detached copy (the
            # construction already refused an owner different from the stored one).
            self.remove_from_store(obj)


def _get_owner_id(self: StoreInSyncStoreMixin) -> uuid.UUID:
    owner = self.sync_owner
    if owner is None:
        pending = _resolve_pending_owner(self)
        if pending is not None:
            return pending
    owner = self.sync_owner
    if owner is None or owner is EphemeralUnflooded:
        raise AttributeError("_sync_owner")
    owner_id: uuid.UUID = owner.id
    return owner_id


def _resolve_pending_owner(self: StoreInSyncStoreMixin) -> uuid.UUID | None:
    """An id assigned before its owner was known: resolve it if the owner is now."""
    pending: uuid.UUID | None = vars(self).get("_sync_owner_pending")
    if pending is None:
        return None
    owners = getattr(type(self).sync_registry, "owners", None)
    owner = owners.get(pending) if owners is not None else None
    if isinstance(owner, SyncOwner):
        self.sync_owner = owner
        del vars(self)["_sync_owner_pending"]
    return pending


def _set_owner_id(self: StoreInSyncStoreMixin, value: Any) -> None:
    vars(self).pop("_sync_owner_pending", None)
    if isinstance(value, SyncOwner) or value is None:
        self.sync_owner = value
        return
    owner_id = uuid_decoder(value)
    owners = getattr(type(self).sync_registry, "owners", None)
    owner = owners.get(owner_id) if owners is not None else None
    if owner is None:
        # As in the original: an owner not known yet is remembered by its id and
        # resolved once it is (store_synchronize makes it a local owner otherwise).
        self.sync_owner = None
        vars(self)["_sync_owner_pending"] = owner_id
        return
    self.sync_owner = owner


class StoreInSyncStoreMixin(Synchronizable):
    """Objects stored in their SyncStoreRegistry; ``_sync_owner`` is the owner's UUID."""

    sync_owner: Any = None
    _sync_owner_required = True
    _sync_owner: uuid.UUID = sync_property(
        property(_get_owner_id, _set_owner_id), type=uuid.UUID
    )

    @classmethod
    def sync_construct(cls, msg: dict[str, Any], **info: Any) -> Synchronizable:
        """Resolve the owner, then reuse the stored object or construct a new one.

        Raises:
            SyncBadEncodingError: ``_sync_owner`` missing or malformed.
            SyncBadOwner: the owner is unknown ("synchronize owner before object"), or
                differs from the stored object's owner.
        """
        registry = info.get("registry") or cls.sync_registry
        if not isinstance(registry, SyncStoreRegistry):
            raise TypeError(f"{cls.__name__} is not in a SyncStoreRegistry")
        owner = _resolve_owner(registry, msg, info)
        existing = _reusable(registry, cls, owner, msg, info)
        if existing is not None:
            return existing
        obj = super().sync_construct(msg, **info)
        obj.sync_owner = owner
        return obj


def _resolve_owner(
    registry: SyncStoreRegistry, msg: dict[str, Any], info: dict[str, Any]
) -> SyncOwner:
    owner = registry.owners.get(owner_id_from_msg(msg))
    if not isinstance(owner, SyncOwner):
        raise SyncBadOwner(
            f"unknown owner {msg['_sync_owner']}: synchronize owner before object",
            network_msg=msg,
        )
    sender = info.get("sender")
    if owner.dest_hash is not None and owner.dest_hash == getattr(
        sender, "dest_hash", None
    ):
        owner.destination = sender
    context = info.get("context")
    if isinstance(context, StoreContext):
        context.owner = owner
    return owner


def _reusable(
    registry: SyncStoreRegistry,
    cls: type[Synchronizable],
    owner: SyncOwner,
    msg: dict[str, Any],
    info: dict[str, Any],
) -> Synchronizable | None:
    operation = info.get("operation")
    if operation == "create":
        return None
    store = registry.store_for_class(cls)
    key = store.key_from_msg(cls, msg)
    existing = store.get(key) if key is not None else None
    if not isinstance(existing, cls):
        return None
    if existing.sync_owner != owner:
        raise SyncBadOwner(
            f"{cls.sync_type} {key!r} belongs to another owner; ownership cannot change",
            network_msg=msg,
        )
    # At a relay, forward/delete proposals go into a detached copy.
    if operation in (None, "sync") or existing.sync_is_local:
        context = info.get("context")
        if isinstance(context, StoreContext):
            context.remember(existing, msg)
        return existing
    return None
