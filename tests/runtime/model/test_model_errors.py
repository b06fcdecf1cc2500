"""The SyncError tree: wire form, round trip through the error registry, fixed quirks."""

from __future__ import annotations

import json

import pytest

from entanglement import DestHash, EntanglementError
from entanglement.interface import (
    EphemeralUnflooded,
    SyncBadEncodingError,
    SyncBadOwner,
    SyncError,
    SyncInvalidOperation,
    SyncNotConnected,
    SyncNotFound,
    SyncUnauthorized,
    Unique,
    UnregisteredSyncClass,
    WrongSyncDestination,
    error_registry,
    sync_property,
)

WIRE_NAMES = [
    "SyncError",
    "SyncUnauthorized",
    "UnregisteredSyncClass",
    "WrongSyncDestination",
    "SyncBadEncodingError",
    "SyncInvalidOperation",
    "SyncBadOwner",
    "SyncNotFound",
    "SyncNotConnected",
]


def receive(wire: dict) -> SyncError:
    """What the receive pipeline does with an error frame (minus the network)."""
    msg = json.loads(json.dumps(wire))
    cls = error_registry.get_syncable(msg["_sync_type"])
    obj = cls.sync_construct(msg)
    assert obj.sync_should_listen_constructed(msg)
    obj.sync_receive_constructed(msg)
    return obj


def frame(err: SyncError) -> dict:
    return {**err.to_sync(), "_sync_type": err.sync_type, "_sync_operation": "error"}


def test_every_wire_name_is_registered():
    for name in WIRE_NAMES:
        cls = error_registry.get_syncable(name)
        assert cls.__name__ == name
        assert issubclass(cls, SyncError)
        assert issubclass(cls, EntanglementError)
    assert error_registry.get_operation("error") == "error"


def test_wire_form_matches_the_spec_example():
    err = SyncBadOwner("owner mismatch", network_msg={"id": 1, "_sync_type": "T"})
    wire = err.to_sync()
    assert list(wire) == ["args", "network_msg", "context", "cause", "_sync_is_error"]
    assert wire == {
        "args": ["owner mismatch"],
        "network_msg": {"id": 1, "_sync_type": "T"},
        "context": None,
        "cause": None,
        "_sync_is_error": True,
    }
    assert SyncError.sync_primary_keys == Unique
    assert err.sync_owner is EphemeralUnflooded
    assert err.sync_is_local is False


def test_context_and_cause_are_texts():
    caught: list[SyncNotFound] = []
    try:
        try:
            raise KeyError("k")
        except KeyError:
            raise SyncNotFound("gone") from ValueError("why")
    except SyncNotFound as exc:
        caught.append(exc)
    err = caught[0]
    wire = err.to_sync()
    assert wire["context"] == "KeyError: 'k'"
    assert wire["cause"] == "ValueError: why"
    got = receive(frame(err))
    assert got.context == "KeyError: 'k'"
    assert got.cause == "ValueError: why"


@pytest.mark.parametrize("name", WIRE_NAMES)
def test_round_trip_rebuilds_the_class(name):
    cls = error_registry.get_syncable(name)
    err = cls("something failed", network_msg={"x": [1, 2]})
    got = receive(frame(err))
    assert type(got) is cls
    assert got.args == ("something failed",)
    assert str(got) == "something failed"
    assert got.network_msg == {"x": [1, 2]}
    with pytest.raises(cls):
        raise got


def test_application_subclasses_register_and_carry_their_properties():
    class QuotaExceeded(SyncUnauthorized):
        quota = sync_property()

    try:
        err = QuotaExceeded("too many", quota=5)
        wire = frame(err)
        assert wire["quota"] == 5
        got = receive(wire)
        assert type(got) is QuotaExceeded
        assert got.quota == 5
        assert isinstance(got, SyncUnauthorized)
        with pytest.raises(TypeError, match="unexpected keyword 'bogus'"):
            QuotaExceeded("x", bogus=1)
    finally:
        del error_registry.registry["QuotaExceeded"]


def test_subclass_with_required_constructor_arguments_is_received():
    class LimitReached(SyncError):
        limit = sync_property()

        def __init__(self, limit: int) -> None:
            super().__init__(f"limit {limit} reached", limit=limit)

    try:
        got = receive(frame(LimitReached(3)))
        assert type(got) is LimitReached
        assert got.args == ("limit 3 reached",)
        assert got.limit == 3
    finally:
        del error_registry.registry["LimitReached"]


def test_network_msg_with_internal_objects_is_sendable():
    # quirk 7 fixed: a should_listen hook's error carries the message dict as the
    # manager saw it, possibly with internal non-JSON objects in it
    marker = object()
    h = DestHash(b"\1" * 32)
    err = SyncUnauthorized(
        "no", network_msg={"a": 1, "_auth": marker, "h": h, "t": (1,)}
    )
    text = json.dumps(frame(err))
    back = json.loads(text)
    assert back["network_msg"]["a"] == 1
    assert back["network_msg"]["h"] == str(h)
    assert back["network_msg"]["t"] == [1]
    assert isinstance(back["network_msg"]["_auth"], str)


class Destination:
    def __init__(self, name, dest_hash):
        self.name = name
        self.dest_hash = dest_hash


def test_sync_not_connected_is_serialisable():
    # quirk 8 fixed: the destination object stays local, its name/hash go on the wire
    h = DestHash(b"\2" * 32)
    dest = Destination("gateway", h)
    err = SyncNotConnected(dest=dest)
    assert err.destination is dest
    assert str(err) == f"not connected to 'gateway' ({h})"
    wire = json.loads(json.dumps(frame(err)))
    assert wire["args"] == [f"not connected to 'gateway' ({h})"]
    assert wire["dest"] == f"'gateway' ({h})"
    got = receive(wire)
    assert isinstance(got, SyncNotConnected)
    assert got.dest == wire["dest"]
    assert SyncNotConnected("plain text").args == ("plain text",)
    # an original peer never managed to send one, but would send dest as a text or null
    assert receive({**wire, "dest": None}).dest is None


def test_wrong_sync_destination_signature():
    h = DestHash(b"\3" * 32)
    got = DestHash(b"\4" * 32)
    err = WrongSyncDestination(dest=Destination("peer", h), got_hash=got)
    assert err.got_hash == got
    assert err.dest.name == "peer"
    assert str(err) == f"expected 'peer' ({h}) but the peer is {got}"
    wire = frame(err)
    assert "dest" not in wire
    assert "got_hash" not in wire
    json.dumps(wire)
    assert WrongSyncDestination("create loop").args == ("create loop",)
    assert WrongSyncDestination().args == ()


def test_errors_raised_by_the_model_are_sync_errors():
    with pytest.raises(UnregisteredSyncClass, match="'Nope' is not registered"):
        error_registry.get_syncable("Nope")
    with pytest.raises(SyncInvalidOperation, match="'forward' is not supported"):
        error_registry.get_operation("forward")
    with pytest.raises(SyncBadEncodingError):
        SyncError().sync_receive_constructed({"unknown": 1})
