"""Stores and the in-memory SyncOwner, the data half of :mod:`entanglement.memory` (§13).

See :mod:`entanglement.memory` for the choices made; this module holds the mapping-like
stores keyed by primary key, the receive context and the owner record.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from ._hashes import DestHash
from ._model import Synchronizable, Unique
from ._properties import sync_property
from ._wire_errors import SyncBadEncodingError, SyncBadOwner
from .types import uuid_decoder

__all__ = [
    "AbstractSyncStore",
    "OwnerAnnouncer",
    "StoreContext",
    "SyncOwner",
    "SyncStore",
    "is_storable",
    "owner_id_from_msg",
]


def is_storable(cls: type[Synchronizable]) -> bool:
    """False for classes with ``sync_primary_keys = Unique`` (events: no key to store)."""
    return cls.sync_primary_keys != Unique


def _key_names(cls: type[Synchronizable]) -> tuple[str, ...]:
    keys = cls.sync_primary_keys
    if keys == Unique:
        raise TypeError(
            f"{cls.__name__} has sync_primary_keys = Unique: it cannot be stored"
        )
    return tuple(keys)


class AbstractSyncStore(Mapping[Any, Any]):
    """Objects of one class family keyed by primary key; subclasses give the storage."""

    def __init__(self) -> None:
        self._objects: MutableMapping[Any, Any] = self.store_factory()

    def store_factory(self) -> MutableMapping[Any, Any]:
        """Return the empty mapping that holds the objects."""
        raise NotImplementedError

    @staticmethod
    def key_for(obj: Synchronizable) -> Any:
        """The key of an object: its single key value, or a tuple of them."""
        values = tuple(getattr(obj, name) for name in _key_names(type(obj)))
        return values[0] if len(values) == 1 else values

    def key_from_msg(self, cls: type[Synchronizable], msg: Mapping[str, Any]) -> Any:
        """Decode the key of ``cls`` from a message; None if any key is missing (or
        the class is Unique).

        Raises:
            SyncBadEncodingError: if a key value cannot be decoded.
        """
        if not is_storable(cls):
            return None
        names = _key_names(cls)
        if any(name not in msg for name in names):
            return None
        values = []
        for name in names:
            try:
                values.append(cls._sync_properties[name].decode(msg[name]))
            except (TypeError, ValueError) as exc:
                raise SyncBadEncodingError(
                    f"bad primary key {name!r}: {exc}", network_msg=dict(msg)
                ) from exc
        return values[0] if len(values) == 1 else tuple(values)

    def _key(self, key_or_obj: Any) -> Any:
        if isinstance(key_or_obj, Synchronizable):
            return self.key_for(key_or_obj)
        return key_or_obj

    def __getitem__(self, key_or_obj: Any) -> Any:
        return self._objects[self._key(key_or_obj)]

    def __contains__(self, key_or_obj: object) -> bool:
        return self._key(key_or_obj) in self._objects

    def __iter__(self) -> Iterator[Any]:
        return iter(self._objects)

    def __len__(self) -> int:
        return len(self._objects)

    def __delitem__(self, key_or_obj: Any) -> None:
        del self._objects[self._key(key_or_obj)]

    def add(self, obj: Synchronizable) -> None:
        """Store ``obj`` under its key (replacing any object with that key)."""
        self._objects[self.key_for(obj)] = obj

    def remove(self, key_or_obj: Any) -> None:
        """Remove an object (by key or object); missing keys are ignored."""
        self._objects.pop(self._key(key_or_obj), None)


class SyncStore(AbstractSyncStore):
    """A store backed by a dict."""

    def store_factory(self) -> MutableMapping[Any, Any]:
        """A plain dict."""
        return {}


_ABSENT: Any = object()


@dataclass
class StoreContext:
    """What ``SyncStoreRegistry.sync_context`` yields for one received message.

    ``owner`` is the owner resolved on receipt.  ``saved`` keeps, for each stored object
    the message is received into, the values the message is about to overwrite, so that
    :meth:`roll_back` can undo the fill when processing fails afterwards.
    """

    owner: SyncOwner | None = None
    saved: list[tuple[Synchronizable, dict[str, Any]]] = field(default_factory=list)

    def remember(self, obj: Synchronizable, msg: Mapping[str, Any]) -> None:
        """Save the attributes of stored ``obj`` that ``msg`` would change."""
        properties = type(obj)._sync_properties
        names = [k for k in msg if not k.startswith("_") and k in properties]
        self.saved.append((obj, {k: getattr(obj, k, _ABSENT) for k in names}))

    # A context manager itself (what ``sync_context`` returns): cheaper per received
    # object than a generator-based one.

    def __enter__(self) -> StoreContext:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self.roll_back()

    def roll_back(self) -> None:
        """Put the saved values back (processing of the message failed)."""
        for obj, values in reversed(self.saved):
            for name, value in values.items():
                if value is _ABSENT:
                    obj.__dict__.pop(name, None)
                else:
                    setattr(obj, name, value)
        self.saved.clear()


class SyncOwner(Synchronizable):
    """An in-memory owner: its ``_sync_owner`` UUID is both its id and its key.

    Args:
        _sync_owner: the id (random by default).
        dest_hash: the neighbour this owner was learned from; None means local.
    """

    sync_primary_keys = ("_sync_owner",)
    sync_priority = 2
    _sync_owner: uuid.UUID = sync_property()

    def __init__(
        self, _sync_owner: uuid.UUID | None = None, dest_hash: DestHash | None = None
    ) -> None:
        self._sync_owner = _sync_owner if _sync_owner is not None else uuid.uuid4()
        self.dest_hash = dest_hash
        self.destination: Any = None

    @property
    def id(self) -> uuid.UUID:
        """The owner's UUID."""
        return self._sync_owner

    @property
    def sync_is_local(self) -> bool:
        """True when the owner was created here (not learned from a neighbour)."""
        return self.dest_hash is None

    def sync_encode_value(self) -> str:
        """The owner's id text (how objects refer to it)."""
        return str(self._sync_owner)

    def __repr__(self) -> str:
        return f"SyncOwner({self._sync_owner}, dest_hash={self.dest_hash})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SyncOwner):
            return self._sync_owner == other._sync_owner
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._sync_owner)

    @classmethod
    def sync_construct(cls, msg: dict[str, Any], **info: Any) -> SyncOwner:
        """Find the owner in the registry (it must come from its own neighbour) or make it.

        Raises:
            SyncBadEncodingError: no valid ``_sync_owner`` in the message.
            SyncBadOwner: we know this owner from another neighbour (or own it).
        """
        owner_id = owner_id_from_msg(msg)
        sender_hash = getattr(info.get("sender"), "dest_hash", None)
        owners = getattr(info.get("registry"), "owners", None)
        existing = owners.get(owner_id) if owners is not None else None
        if not isinstance(existing, SyncOwner):
            return cls(owner_id, dest_hash=sender_hash)
        if existing.dest_hash is None or existing.dest_hash != sender_hash:
            raise SyncBadOwner(
                f"owner {owner_id} is known from {existing.dest_hash or 'here'}, "
                "not from the sender",
                network_msg=msg,
            )
        return existing


class OwnerAnnouncer:
    """Sends each local owner once per live connection, before the first object.

    Peers accept an object only once they know its owner, so the owner must precede the
    first object on every connection.  Sending it before *every* object doubled the
    frames of high-rate updates; instead we remember, per connection object (weakly: a
    closed connection is forgotten, a reconnect is a new object and starts fresh), the
    owners it was given and the priority they were queued with.

    Order (issue 10 item 7): the owner is queued with the priority of the object it
    precedes when that is lower (more urgent) than its own, and within one priority the
    queue is first-in first-out, so it leaves first whatever the object's priority.  An
    object more urgent than the owner was queued with queues the owner again at that
    priority: still queued, the owner moves up (it coalesces, keeping its place in
    arrival order); already sent, the peer gets a harmless second copy.
    """

    def __init__(self) -> None:
        self._sent: weakref.WeakKeyDictionary[Any, dict[uuid.UUID, int]] = (
            weakref.WeakKeyDictionary()
        )

    def announce(
        self,
        manager: Any,
        owner: SyncOwner,
        destinations: Iterable[Any] | None = None,
        exclude: Iterable[Any] = (),
        priority: int | None = None,
    ) -> None:
        """Queue ``owner`` on the target connections that have not had it yet.

        Args:
            manager: the SyncManager about to send an object of ``owner``.
            owner: a local owner.
            destinations: the object's targets (None: every live connection).
            exclude: destinations the object skips (compared with ``==``).
            priority: the object's priority (None: the owner's own).
        """
        own = owner.sync_priority
        wanted = own if priority is None or priority > own else priority
        targets = _target_protocols(manager, destinations, exclude)
        if targets is None:  # not a SyncManager: no connections to remember
            manager.synchronize(
                owner, destinations=destinations, exclude=exclude, priority=wanted
            )
            return
        owner_id = owner.id
        behind = [
            (protocol, dest)
            for protocol, dest in targets
            if self._sent.get(protocol, _NONE).get(owner_id, _NEVER) > wanted
        ]
        if not behind:
            return
        manager.synchronize(
            owner, destinations=[dest for _, dest in behind], priority=wanted
        )
        for protocol, _ in behind:
            self._sent.setdefault(protocol, {})[owner_id] = wanted


_NONE: dict[uuid.UUID, int] = {}
_NEVER = float("inf")  # (sent with no priority: any priority is more urgent)


def _target_protocols(
    manager: Any, destinations: Iterable[Any] | None, exclude: Iterable[Any]
) -> list[tuple[Any, Any]] | None:
    # (connection, destination) pairs the object will be queued on; targets without a
    # connection are left out (synchronize of the object reports them).
    if getattr(manager, "targets", None) is None:
        return None
    pairs = []
    for protocol, dest in manager.targets(destinations, exclude):
        if protocol is None:
            protocol = manager.connection_to(dest)
        if protocol is not None and not protocol.closed:
            pairs.append((protocol, dest))
    return pairs


def owner_id_from_msg(msg: Mapping[str, Any]) -> uuid.UUID:
    raw = msg.get("_sync_owner")
    if raw is None:
        raise SyncBadEncodingError("_sync_owner is required", network_msg=dict(msg))
    try:
        owner_id = uuid_decoder(raw)
    except (TypeError, ValueError) as exc:
        raise SyncBadEncodingError(
            f"bad _sync_owner {raw!r}: {exc}", network_msg=dict(msg)
        ) from exc
    if owner_id is None:
        raise SyncBadEncodingError("_sync_owner is empty", network_msg=dict(msg))
    return owner_id
