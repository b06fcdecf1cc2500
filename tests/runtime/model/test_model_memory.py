"""In-memory stores and registries (§13): keys, shared stores, owners, receive checks.

The receive steps are driven as the manager's pipeline drives them (should_listen chain,
context, construct, constructed checks, fill, registry hooks) up to the flood, which is
covered by the TLS scenarios in test_model_memory_net.py.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from entanglement import DestHash
from entanglement.interface import (
    SyncBadEncodingError,
    SyncBadOwner,
    Synchronizable,
    SyncNotFound,
    SyncUnauthorized,
    Unique,
    sync_property,
)
from entanglement.memory import (
    AbstractSyncStore,
    StoreContext,
    StoreInSyncStoreMixin,
    SyncOwner,
    SyncStore,
    SyncStoreRegistry,
)

PEER = DestHash(b"\1" * 32)
OTHER = DestHash(b"\2" * 32)


class Peer:
    def __init__(self, dest_hash: DestHash) -> None:
        self.dest_hash = dest_hash
        self.name = "peer"


registry = SyncStoreRegistry()


class Cursor(StoreInSyncStoreMixin):
    sync_registry = registry
    sync_primary_keys = ("id",)
    id: uuid.UUID = sync_property()
    x: float = sync_property()


class Pair(StoreInSyncStoreMixin):
    sync_registry = registry
    sync_primary_keys = ("a", "b")
    a: int = sync_property()
    b: str = sync_property()


class Shared(StoreInSyncStoreMixin):
    sync_registry = registry
    sync_primary_keys = ("id",)
    sync_store_with = Cursor
    id: uuid.UUID = sync_property()


def cursor(x: float = 0.0, owner: SyncOwner | None = None) -> Cursor:
    c = Cursor()
    c.id = uuid.uuid4()
    c.x = x
    if owner is not None:
        c.sync_owner = owner
    return c


def receive_steps(reg: SyncStoreRegistry, msg: dict[str, Any], sender: DestHash) -> Any:
    """The pipeline up to (not including) ``registry.sync_receive``."""
    cls = reg.get_syncable(msg["_sync_type"])
    operation = reg.get_operation(msg.get("_sync_operation", "sync"))
    info: dict[str, Any] = {
        "sender": Peer(sender),
        "registry": reg,
        "operation": operation,
        "attributes": frozenset(k for k in msg if not k.startswith("_")),
        "response_for": None,
    }
    assert reg.should_listen(msg, cls, **info)
    with reg.sync_context(sync_type=cls, **info) as context:
        info["context"] = context
        obj = cls.sync_construct(msg, **info)
        assert reg.should_listen_constructed(obj, msg, **info)
        assert obj.sync_should_listen_constructed(msg, **info)
        obj.sync_receive_constructed(msg, **info)
    return obj, info


def wire(obj: Synchronizable, operation: str = "sync", **extra: Any) -> dict[str, Any]:
    msg = {**obj.to_sync(), "_sync_type": obj.sync_type, **extra}
    if operation != "sync":
        msg["_sync_operation"] = operation
    return msg


# --- stores ---------------------------------------------------------------------


def test_store_keys_single_and_tuple():
    store = SyncStore()
    c = cursor()
    p = Pair()
    p.a, p.b = 1, "x"
    store.add(c)
    store.add(p)
    assert store[c.id] is c
    assert store[c] is c
    assert store[(1, "x")] is p
    assert p in store
    assert (1, "x") in store
    assert len(store) == 2
    assert set(store) == {c.id, (1, "x")}
    del store[p]
    assert p not in store
    store.remove(c.id)
    store.remove(c.id)  # missing keys are ignored
    assert len(store) == 0


def test_key_from_msg_decodes_and_needs_every_key():
    store = SyncStore()
    u = uuid.uuid4()
    assert store.key_from_msg(Cursor, {"id": str(u)}) == u
    assert store.key_from_msg(Pair, {"a": 1, "b": "x"}) == (1, "x")
    assert store.key_from_msg(Pair, {"a": 1}) is None
    with pytest.raises(SyncBadEncodingError, match="bad primary key 'id'"):
        store.key_from_msg(Cursor, {"id": "nope"})


def test_custom_store_factory():
    class OrderedStore(AbstractSyncStore):
        made = 0

        def store_factory(self):
            OrderedStore.made += 1
            return {}

    reg = SyncStoreRegistry(sync_store_factory=OrderedStore)
    assert isinstance(reg.store_for_class(Cursor), OrderedStore)
    assert OrderedStore.made == 1
    with pytest.raises(NotImplementedError):
        AbstractSyncStore()


def test_sync_store_with_shares_one_store():
    reg = SyncStoreRegistry()
    assert reg.store_for_class(Shared) is reg.store_for_class(Cursor)
    assert reg.store_for_class(Pair) is not reg.store_for_class(Cursor)
    s = Shared()
    s.id = uuid.uuid4()
    reg.add_to_store(s)
    assert reg.store_for_class(Cursor)[s.id] is s
    reg.remove_from_store(s)
    assert s.id not in reg.store_for_class(Cursor)


def test_get_or_create():
    reg = SyncStoreRegistry()
    u = uuid.uuid4()
    c = reg.get_or_create(Cursor, u)
    assert c.id == u
    assert reg.get_or_create(Cursor, u) is c
    p = reg.get_or_create(Pair, 1, "x")
    assert (p.a, p.b) == (1, "x")
    with pytest.raises(TypeError, match="has keys"):
        reg.get_or_create(Pair, 1)


# --- owners ---------------------------------------------------------------------


def test_sync_owner_wire_form_and_identity():
    owner = SyncOwner()
    assert owner.sync_priority == 2
    assert owner.id == owner._sync_owner
    assert owner.to_sync() == {"_sync_owner": str(owner.id)}
    assert wire(owner) == {"_sync_owner": str(owner.id), "_sync_type": "SyncOwner"}
    assert owner.sync_encode_value() == str(owner.id)
    assert owner.sync_is_local
    same = SyncOwner(owner.id, dest_hash=PEER)
    assert same == owner
    assert hash(same) == hash(owner)
    assert not same.sync_is_local


def test_local_owner_is_memoised_and_stored():
    reg = SyncStoreRegistry()
    owner = reg.local_owner
    assert owner.dest_hash is None
    assert reg.local_owner is owner
    assert reg.owners[owner.id] is owner
    reg2 = SyncStoreRegistry()
    remote = SyncOwner(dest_hash=PEER)
    local = SyncOwner()
    reg2.owners.add(remote)
    reg2.owners.add(local)
    assert reg2.local_owner is local


def test_store_synchronize_without_manager_assigns_owner_and_stores():
    reg = SyncStoreRegistry()

    class Item(StoreInSyncStoreMixin):
        sync_primary_keys = ("id",)
        id = sync_property()

    Item.sync_registry = reg
    item = Item()
    item.id = 5
    assert reg.manager is None
    assert reg.store_synchronize(item) is None
    assert item.sync_owner is reg.local_owner
    assert reg.store_for_class(Item)[5] is item
    assert item.to_sync() == {"id": 5, "_sync_owner": str(reg.local_owner.id)}


def test_mixin_owner_property():
    reg = registry
    owner = SyncOwner(dest_hash=PEER)
    reg.owners.add(owner)
    c = cursor()
    assert "_sync_owner" not in c.to_sync()  # no owner yet: omitted
    c._sync_owner = str(owner.id)
    assert c.sync_owner is owner
    assert c.to_sync()["_sync_owner"] == str(owner.id)
    # An owner not stored yet (the original allows it): the id is kept and resolved
    # once the owner is known.
    later = SyncOwner(dest_hash=PEER)
    c._sync_owner = str(later.id)
    assert c.sync_owner is None
    assert c._sync_owner == later.id
    assert c.to_sync()["_sync_owner"] == str(later.id)
    reg.owners.add(later)
    assert c._sync_owner == later.id
    assert c.sync_owner is later


def test_store_synchronize_makes_an_assigned_unknown_owner_local():
    reg = SyncStoreRegistry()
    reg.register_syncable("Cursor", Cursor)
    c = cursor()
    owner_id = uuid.uuid4()
    c._sync_owner = str(owner_id)
    reg.store_synchronize(c)
    assert c.sync_owner.id == owner_id
    assert c.sync_owner.dest_hash is None
    assert reg.owners[owner_id] is c.sync_owner


# --- receiving --------------------------------------------------------------------


def remote_world():
    """A receiving registry that knows an owner learned from PEER."""
    reg = SyncStoreRegistry()
    reg.register_syncable("Cursor", Cursor)
    return reg


def test_receive_owner_then_object():
    reg = remote_world()
    theirs = SyncOwner()
    owner, info = receive_steps(reg, wire(theirs), PEER)
    assert owner.dest_hash == PEER
    assert owner.id == theirs.id
    reg.sync_receive(owner, **info)  # incoming_sync stores it; owners are not flooded
    assert reg.owners[theirs.id] is owner
    # the same owner again from the same neighbour: the stored record is reused
    again, _ = receive_steps(reg, wire(theirs), PEER)
    assert again is owner
    # ... but from another neighbour it is refused
    with pytest.raises(SyncBadOwner, match="not from the sender"):
        receive_steps(reg, wire(theirs), OTHER)
    # our own owner sent back to us is refused too
    with pytest.raises(SyncBadOwner):
        receive_steps(reg, wire(reg.local_owner), PEER)
    c = cursor(1.5, theirs)
    obj, info = receive_steps(reg, wire(c), PEER)
    assert obj.sync_owner is owner
    assert owner.destination.dest_hash == PEER
    assert info["context"].owner is owner
    assert obj.id not in reg.store_for_class(Cursor)  # not stored before the hook
    reg.incoming_sync(obj, **info)
    assert reg.store_for_class(Cursor)[obj.id] is obj


def test_receive_requires_a_known_owner():
    reg = remote_world()
    c = cursor(1.0, SyncOwner())
    with pytest.raises(SyncBadOwner, match="synchronize owner before object"):
        receive_steps(reg, wire(c), PEER)
    msg = wire(c)
    del msg["_sync_owner"]
    with pytest.raises(SyncBadEncodingError, match="_sync_owner is required"):
        receive_steps(reg, msg, PEER)


def test_existing_object_is_reused_but_never_changes_owner():
    reg = remote_world()
    first, second = SyncOwner(dest_hash=PEER), SyncOwner(dest_hash=PEER)
    reg.owners.add(first)
    reg.owners.add(second)
    stored = cursor(1.0, first)
    reg.add_to_store(stored)
    obj, _ = receive_steps(reg, wire(cursor_like(stored, x=2.0)), PEER)
    assert obj is stored
    assert stored.x == 2.0
    moved = cursor_like(stored, x=3.0)
    moved.sync_owner = second
    with pytest.raises(SyncBadOwner, match="ownership cannot change"):
        receive_steps(reg, wire(moved), PEER)
    assert stored.x == 2.0


def cursor_like(c: Cursor, **changes: Any) -> Cursor:
    copy = cursor(c.x, c.sync_owner)
    copy.id = c.id
    for k, v in changes.items():
        setattr(copy, k, v)
    return copy


def test_forward_at_a_relay_uses_a_detached_copy():
    reg = remote_world()
    owner = SyncOwner(dest_hash=OTHER)  # the owner lies beyond another neighbour
    reg.owners.add(owner)
    stored = cursor(1.0, owner)
    reg.add_to_store(stored)
    proposal = cursor_like(stored, x=9.0)
    obj, _ = receive_steps(reg, wire(proposal, "forward"), PEER)
    assert obj is not stored
    assert obj.x == 9.0
    assert stored.x == 1.0  # the replica is untouched until the owner answers


def test_forward_at_the_owner_needs_an_existing_object():
    reg = remote_world()
    mine = reg.local_owner
    stored = cursor(1.0, mine)
    reg.add_to_store(stored)
    obj, info = receive_steps(reg, wire(cursor_like(stored, x=4.0), "forward"), PEER)
    assert obj is stored
    assert stored.x == 4.0
    unknown = cursor(1.0, mine)
    obj, info = receive_steps(reg, wire(unknown, "forward"), PEER)
    with pytest.raises(SyncNotFound, match="forward cannot create"):
        reg.incoming_forward(obj, **info)


def test_create_in_memory_resolves_the_owner_into_the_context():
    # quirk 52 fixed: the create operation finds the owner in the context
    reg = remote_world()
    mine = reg.local_owner
    request = cursor(7.0, mine)
    msg = wire(request, "create")
    del msg["id"]  # creators may leave the key to the owner...
    obj, info = receive_steps(reg, msg, PEER)
    assert info["context"].owner is mine
    with pytest.raises(SyncBadEncodingError, match="no primary key assigned"):
        reg.incoming_create(obj, **info)
    msg = wire(request, "create")
    with pytest.raises(SyncUnauthorized, match="may not choose its primary keys"):
        receive_steps(reg, msg, PEER)  # ...and may only choose keys with consent


class Keyed(StoreInSyncStoreMixin):
    sync_primary_keys = ("name",)
    name: str = sync_property()
    value: int = sync_property()

    def sync_should_listen_primary_keys(self, msg: dict[str, Any], **info: Any) -> bool:
        return True


def test_create_with_consented_keys_is_stored_by_the_owner():
    reg = SyncStoreRegistry()
    reg.register_syncable("Keyed", Keyed)
    Keyed.sync_registry = reg
    mine = reg.local_owner
    k = Keyed()
    k.name, k.value, k.sync_owner = "a", 1, mine
    obj, info = receive_steps(reg, wire(k, "create"), PEER)
    assert isinstance(info["context"], StoreContext)
    assert info["context"].owner is mine
    assert obj.sync_is_local
    reg.incoming_create(obj, **info)
    assert reg.store_for_class(Keyed)["a"] is obj
    again, info = receive_steps(reg, wire(k, "create"), PEER)
    with pytest.raises(SyncUnauthorized, match="already exists"):
        reg.incoming_create(again, **info)


def test_incoming_delete_rules():
    reg = remote_world()
    theirs = SyncOwner(dest_hash=PEER)
    reg.owners.add(theirs)
    stored = cursor(1.0, theirs)
    reg.add_to_store(stored)
    # a delete request from a non-owner neighbour does not remove the replica
    obj, info = receive_steps(reg, wire(stored, "delete"), OTHER)
    reg.incoming_delete(obj, **info)
    assert stored.id in reg.store_for_class(Cursor)
    # from the owner's direction it does
    obj, info = receive_steps(reg, wire(stored, "delete"), PEER)
    reg.incoming_delete(obj, **info)
    assert stored.id not in reg.store_for_class(Cursor)
    # and at the owner a granted request removes our own object
    ours = cursor(2.0, reg.local_owner)
    reg.add_to_store(ours)
    obj, info = receive_steps(reg, wire(ours, "delete"), PEER)
    reg.incoming_delete(obj, **info)
    assert ours.id not in reg.store_for_class(Cursor)


class Ping(StoreInSyncStoreMixin):
    sync_primary_keys = Unique
    text: str = sync_property()


def test_unique_events_pass_through_without_being_stored():
    reg = remote_world()
    reg.register_syncable("Ping", Ping)
    theirs = SyncOwner(dest_hash=PEER)
    reg.owners.add(theirs)
    p = Ping()
    p.text, p.sync_owner = "look", theirs
    obj, info = receive_steps(reg, wire(p), PEER)
    assert obj.text == "look"
    reg.incoming_sync(obj, **info)
    assert len(reg.store_for_class(Ping)) == 0
    reg.remove_from_store(obj)
    mine = Ping()
    mine.text = "local"
    assert reg.store_synchronize(mine) is None
    assert mine.sync_owner is reg.local_owner
