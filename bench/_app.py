"""The in-memory application the throughput and topology benchmarks synchronise.

It is written the way the seed API tells an application to be written, so that the
benchmarks measure the runtime's general path, not a case no user runs:

* ``Item`` defines its own ``__init__`` (taking the key and the owner) and its own
  ``sync_construct`` (which finds or creates the owner, learned from the sender);
* ``AppStore`` overrides ``sync_receive`` for "application-specific processing" (it
  counts the operations it saw) and calls ``super()``, as API.md asks;
* ``Store`` (the base of ``AppStore``) only defines ``incoming_sync`` and
  ``incoming_forward``: the *no-hook* application, kept for context rows.

Both stores count received objects and resolve ``done`` when ``target`` objects arrived
or when the object watched (``watch = (id, size)``) holds its final value.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

from _common import now

from entanglement.interface import Synchronizable, SyncRegistry, sync_property
from entanglement.network import SyncDestination
from entanglement.operations import forward, sync


class Owner:
    """An owner as the owner contract asks: ``id`` and ``dest_hash`` (None = local)."""

    def __init__(self, owner_id: uuid.UUID, dest_hash: Any = None) -> None:
        self.id, self.dest_hash = owner_id, dest_hash
        # The wire form, made once: the floor's messages hold it ready-made too, and
        # formatting a UUID per object sent is the application's cost, not ours.
        self.text = str(owner_id)


class Store(SyncRegistry):
    """The no-hook application: objects are stored by ``incoming_sync``."""

    def __init__(self) -> None:
        super().__init__()
        self.register_operation("sync", sync)
        self.register_operation("forward", forward)
        self.owners: dict[str, Owner] = {}
        self.items: dict[int, Item] = {}
        self.count = 0
        self.per_id: Counter[int] = Counter()
        self.target = -1
        self.done: asyncio.Future[float] | None = None
        self.watch: tuple[int, int] | None = None

    def incoming_sync(self, obj: Item, **info: Any) -> None:
        self.items[obj.id] = obj
        self.count += 1
        if self.watch is not None:
            self.per_id[obj.id] += 1
        finished = self.count == self.target or (
            self.watch is not None and (obj.id, obj.size) == self.watch
        )
        if finished and self.done is not None and not self.done.done():
            self.done.set_result(now())

    def incoming_forward(self, obj: Item, **info: Any) -> None:
        self.items[obj.id] = obj


class AppStore(Store):
    """The application of issue 12: overrides ``sync_receive`` and calls super."""

    def __init__(self) -> None:
        super().__init__()
        self.seen_operations: Counter[str] = Counter()

    def sync_receive(self, obj: Synchronizable, operation: Any, **info: Any) -> Any:
        result = super().sync_receive(obj, operation, **info)
        self.seen_operations[getattr(operation, "name", str(operation))] += 1
        return result


STORES: dict[str, type[Store]] = {"app": AppStore, "base": Store}


class Item(Synchronizable):
    """A small object: an int key, two values and its owner's id text."""

    sync_primary_keys = ("id",)
    id: int = sync_property(constructor=True)
    color: str = sync_property()
    size: int = sync_property()
    _sync_owner = sync_property(property(lambda self: self.sync_owner.text))

    def __init__(self, id: int, owner: Owner | None = None) -> None:
        self.id = id
        self.sync_owner = owner

    @classmethod
    def sync_construct(cls, msg: dict[str, Any], **info: Any) -> Item:
        store = info["registry"]
        owner_id = msg["_sync_owner"]
        owner = store.owners.get(owner_id)
        if owner is None:
            sender_hash = info["sender"].dest_hash
            owner = store.owners[owner_id] = Owner(uuid.UUID(owner_id), sender_hash)
        return cls(msg.pop("id"), owner)


class PortDest(SyncDestination):
    """A TLS destination on 127.0.0.1 at a given port, never throttled."""

    def __init__(self, dest_hash: Any, name: str, port: int) -> None:
        super().__init__(dest_hash, name, host="127.0.0.1", bw_per_sec=10**10)
        self.port = port


def make_store(hooks: str) -> Store:
    """A store of the named application (``app`` or ``base``) holding ``Item``."""
    store = STORES[hooks]()
    store.register_syncable("Item", Item)
    return store


def make_items(n: int, owner: Owner, start: int = 0) -> list[Item]:
    """``n`` items owned by ``owner``, made before any clock starts."""
    items = []
    for i in range(start, start + n):
        item = Item(i, owner)
        item.color, item.size = "red", i
        items.append(item)
    return items
