"""Issue 10 items 7 and 9: in-memory objects and their owners.

* Item 7: an owner reaches a peer before the objects it owns, whatever the objects'
  priority.  A class with ``sync_priority = 1`` (or 0) used to leave the queue before
  its owner (priority 2): the peer refused the first objects ("unknown owner ...
  synchronize owner before object") and they were never sent again.
* Item 9: ``manager.synchronize(obj)`` of an in-memory object without an owner raises
  at once, naming the object and what to set, instead of the peer refusing every
  object (``_sync_owner is required``).  ``registry.store_synchronize(obj)`` is what
  works: it gives the object the local owner, stores it and sends the owner first.
"""

from __future__ import annotations

import logging
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "model"))

from test_model_memory_net import connect, run, wait_until

from entanglement.interface import sync_property
from entanglement.memory import StoreInSyncStoreMixin, SyncStoreRegistry


class Pointer(StoreInSyncStoreMixin):
    """A keyed in-memory object whose priority beats its owner's (2)."""

    sync_primary_keys = ("id",)
    sync_priority = 1
    id: uuid.UUID = sync_property()
    x: float = sync_property()


class Urgent(Pointer):
    """The same at priority 0."""

    sync_priority = 0


def fresh() -> tuple[SyncStoreRegistry, SyncStoreRegistry]:
    ra, rb = SyncStoreRegistry(), SyncStoreRegistry()
    for reg in (ra, rb):
        reg.register_syncable("Pointer", Pointer)
        reg.register_syncable("Urgent", Urgent)
    return ra, rb


def pointer(cls: type[Pointer], x: float) -> Pointer:
    p = cls()
    p.id, p.x = uuid.uuid4(), x
    return p


def stored(reg: SyncStoreRegistry, obj: Pointer) -> bool:
    return obj.id in reg.store_for_class(type(obj))


@pytest.mark.parametrize("explicit", [None, 0, 1])
def test_owner_precedes_objects_of_any_priority(pki, caplog, explicit) -> None:
    async def scenario() -> None:
        ra, rb = fresh()
        srv, cli, _ = await connect(pki, ra, rb)
        async with srv, cli:
            sent = [pointer(Pointer, 1.0), pointer(Urgent, 2.0), pointer(Pointer, 3.0)]
            for obj in sent:
                kwargs = {} if explicit is None else {"priority": explicit}
                ra.store_synchronize(obj, **kwargs)
            # A second owner-less burst after the owner went out once: an object of
            # a lower priority than the owner was sent with still follows it.
            late = pointer(Urgent, 4.0)
            await wait_until(lambda: all(stored(rb, o) for o in sent))
            ra.store_synchronize(late, priority=-1)
            await wait_until(lambda: stored(rb, late))
            replica = rb.store_for_class(Urgent)[late.id]
            assert replica.sync_owner.id == ra.local_owner.id

    with caplog.at_level(logging.WARNING, logger="entanglement"):
        run(scenario())
    assert "rejected" not in caplog.text
    assert "unknown owner" not in caplog.text


def test_synchronize_without_an_owner_raises_naming_what_to_set(pki, caplog) -> None:
    async def scenario() -> None:
        ra, rb = fresh()
        srv, cli, _ = await connect(pki, ra, rb)
        async with srv, cli:
            lost = pointer(Pointer, 1.0)
            with pytest.raises(ValueError, match="Pointer") as raised:
                srv.synchronize(lost)
            text = str(raised.value)
            assert "sync_owner" in text
            assert "store_synchronize" in text
            # What works: the registry's store_synchronize.
            ra.store_synchronize(lost)
            await wait_until(lambda: lost.id in rb.store_for_class(Pointer))

    with caplog.at_level(logging.WARNING, logger="entanglement"):
        run(scenario())
    assert "rejected" not in caplog.text


def test_synchronize_with_an_owner_the_peer_knows_works(pki) -> None:
    async def scenario() -> None:
        ra, rb = fresh()
        srv, cli, _ = await connect(pki, ra, rb)
        async with srv, cli:
            first = pointer(Pointer, 1.0)
            ra.store_synchronize(first)  # the owner goes out with it
            await wait_until(lambda: first.id in rb.store_for_class(Pointer))
            again: Any = pointer(Pointer, 2.0)
            again.sync_owner = ra.local_owner
            ra.add_to_store(again)
            srv.synchronize(again)
            await wait_until(lambda: again.id in rb.store_for_class(Pointer))

    run(scenario())
