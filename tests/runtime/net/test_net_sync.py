"""Managers over real TLS on 127.0.0.1: floods, responses, policies, errors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from net_helpers import (
    Note,
    Owner,
    PortDestination,
    Thing,
    ThingRegistry,
    connect_pair,
    fresh_registries,
    manager,
    port_of,
    run,
    server,
    wait_until,
)

from entanglement.interface import (
    SyncRegistry,
    SyncUnauthorized,
    UnregisteredSyncClass,
    error_registry,
)
from entanglement.network import SyncDestination, SyncManager


def test_sync_both_ways(pki) -> None:
    async def scenario() -> None:
        ra, rb, _ = fresh_registries()
        a, b = pki.nodes["a"], pki.nodes["b"]
        async with server(a, ra) as srv, manager(b, rb) as cli:
            await connect_pair(srv, cli, a, b)
            srv.synchronize(ra.add_local(Thing(1, Owner(), color="red", size=3)))
            await rb.wait_for(lambda: 1 in rb.things)
            assert (rb.things[1].color, rb.things[1].size) == ("red", 3)
            assert rb.things[1].sync_owner.dest_hash == a.hash
            cli.synchronize(rb.add_local(Thing(2, Owner(), color="blue")))
            await ra.wait_for(lambda: 2 in ra.things)
            assert ra.things[2].color == "blue"

    run(scenario())


def test_forward_response_resolves_the_future(pki) -> None:
    async def scenario() -> None:
        ra, rb, _ = fresh_registries()
        a, b = pki.nodes["a"], pki.nodes["b"]
        async with server(a, ra) as srv, manager(b, rb) as cli:
            await connect_pair(srv, cli, a, b)
            srv.synchronize(ra.add_local(Thing(1, Owner(), color="red")))
            await rb.wait_for(lambda: 1 in rb.things)
            proposal = Thing(1, rb.things[1].sync_owner, color="green")
            [to_srv] = cli.destinations
            future = cli.synchronize(
                proposal,
                destinations=[to_srv],
                operation="forward",
                attributes_to_sync=["id", "color"],
                response=True,
            )
            result = await future
            assert isinstance(result, Thing)
            assert result.color == "green"
            assert ra.things[1].color == "green"  # the owner applied it

    run(scenario())


class Refusing(ThingRegistry):
    """Refuses Things whose color is 'forbidden' before construction."""

    def should_listen(self, msg: dict[str, Any], cls: type, **info: Any) -> bool:
        super().should_listen(msg, cls, **info)
        if msg.get("color") == "forbidden":
            raise SyncUnauthorized("forbidden color", network_msg=msg)
        return True


def test_error_response_fails_the_future(pki) -> None:
    async def scenario() -> None:
        _, rb, _ = fresh_registries()
        ra = Refusing()
        ra.register_syncable("Thing", Thing)
        a, b = pki.nodes["a"], pki.nodes["b"]
        async with server(a, ra) as srv, manager(b, rb) as cli:
            await connect_pair(srv, cli, a, b)
            future = cli.synchronize(
                rb.add_local(Thing(5, Owner(), color="forbidden")), response=True
            )
            with pytest.raises(SyncUnauthorized, match="forbidden color") as info:
                await future
            assert info.value.network_msg["color"] == "forbidden"
            assert 5 not in ra.things

    run(scenario())


def test_request_nobody_answers_resolves_with_none(pki) -> None:
    async def scenario() -> None:
        ra, rb = SyncRegistry(), SyncRegistry()
        for reg in (ra, rb):
            reg.register_syncable("Note", Note)
        a, b = pki.nodes["a"], pki.nodes["b"]
        async with server(a, ra) as srv, manager(b, rb) as cli:
            await connect_pair(srv, cli, a, b)
            # The base registry's sync does nothing: no answer, so "no response".
            assert await cli.synchronize(Note(), response=True) is None

    run(scenario())


def test_unregistered_class_is_reported_and_the_link_survives(pki) -> None:
    async def scenario() -> None:
        ra, rb, _ = fresh_registries()
        notes = SyncRegistry()
        notes.register_syncable("Note", Note)
        a, b = pki.nodes["a"], pki.nodes["b"]
        async with server(a, ra) as srv, manager(b, notes, rb) as cli:
            await connect_pair(srv, cli, a, b)
            note = Note()
            note.text = "hello"
            with pytest.raises(UnregisteredSyncClass, match="Note"):
                await cli.synchronize(note, response=True)
            cli.synchronize(rb.add_local(Thing(3, Owner(), color="ok")))
            await ra.wait_for(lambda: 3 in ra.things)

    run(scenario())


class Secretive(SyncDestination):
    """Never sends secret things."""

    def should_send(self, obj: Any, **info: Any) -> bool:
        return getattr(obj, "color", None) != "secret"


def test_should_send_refusal_keeps_the_object_home(pki) -> None:
    async def scenario() -> None:
        ra, rb, _ = fresh_registries()
        a, b = pki.nodes["a"], pki.nodes["b"]
        async with server(a, ra) as srv, manager(b, rb) as cli:
            await srv.listen_ssl(0, "127.0.0.1")
            srv.add_destination(Secretive(b.hash, "client"))
            await cli.add_destination(PortDestination(a.hash, "srv", port_of(srv)))
            await wait_until(lambda: srv.connections)
            srv.synchronize(ra.add_local(Thing(1, Owner(), color="secret")))
            srv.synchronize(ra.add_local(Thing(2, Owner(), color="public")))
            await rb.wait_for(lambda: 2 in rb.things)
            await srv.connections[0].sync_drain()
            assert 1 not in rb.things

    run(scenario())


def test_gateway_relays_forward_and_answer(pki) -> None:
    # C -- S -- M: M owns the Thing, C proposes a change through S.
    async def scenario() -> None:
        rs, rm, rc = fresh_registries()
        s, m, c = pki.nodes["a"], pki.nodes["b"], pki.nodes["c"]
        async with server(s, rs) as gw, manager(m, rm) as owner, manager(c, rc) as cli:
            await gw.listen_ssl(0, "127.0.0.1")
            gw.add_destination(SyncDestination(m.hash, "M"))
            gw.add_destination(SyncDestination(c.hash, "C"))
            await owner.add_destination(PortDestination(s.hash, "S", port_of(gw)))
            await cli.add_destination(PortDestination(s.hash, "S", port_of(gw)))
            await wait_until(lambda: len(gw.connections) == 2)
            owner.synchronize(rm.add_local(Thing(9, Owner(), color="red", size=1)))
            await rc.wait_for(lambda: 9 in rc.things)
            proposal = Thing(9, rc.things[9].sync_owner, color="blue")
            [to_gw] = cli.destinations
            result = await cli.synchronize(
                proposal,
                destinations=[to_gw],
                operation="forward",
                attributes_to_sync=["id", "color"],
                response=True,
            )
            assert (result.color, result.size) == ("blue", 1)
            assert rm.things[9].color == "blue"
            assert rs.things[9].color == "blue"
            assert [op for op, _ in rs.received] == ["sync", "forward", "sync"]

    run(scenario())


def test_gateway_relays_an_error_back(pki) -> None:
    async def scenario() -> None:
        rs, _, rc = fresh_registries()
        rm = Refusing()
        rm.register_syncable("Thing", Thing)
        s, m, c = pki.nodes["a"], pki.nodes["b"], pki.nodes["c"]
        async with server(s, rs) as gw, manager(m, rm) as owner, manager(c, rc) as cli:
            await gw.listen_ssl(0, "127.0.0.1")
            gw.add_destination(SyncDestination(m.hash, "M"))
            gw.add_destination(SyncDestination(c.hash, "C"))
            await owner.add_destination(PortDestination(s.hash, "S", port_of(gw)))
            await cli.add_destination(PortDestination(s.hash, "S", port_of(gw)))
            await wait_until(lambda: len(gw.connections) == 2)
            owner.synchronize(rm.add_local(Thing(9, Owner(), color="red")))
            await rc.wait_for(lambda: 9 in rc.things)
            proposal = Thing(9, rc.things[9].sync_owner, color="forbidden")
            future = cli.synchronize(
                proposal, operation="forward", attributes_to_sync=["id", "color"],
                response=True,
            )  # fmt: skip
            with pytest.raises(SyncUnauthorized, match="forbidden color"):
                await future
            assert rm.things[9].color == "red"

    run(scenario())


def test_drain_waits_for_queued_objects(pki) -> None:
    async def scenario() -> None:
        ra, rb, _ = fresh_registries()
        a, b = pki.nodes["a"], pki.nodes["b"]
        async with server(a, ra) as srv, manager(b, rb) as cli:
            await connect_pair(srv, cli, a, b)
            protocol = srv.connections[0]
            for i in range(50):
                srv.synchronize(ra.add_local(Thing(i, Owner(), size=i)))
            before = protocol.conn.out_count
            await protocol.sync_drain()
            assert protocol.conn.out_count - before == 50
            await protocol.sync_drain()  # nothing queued: completes at once
            await rb.wait_for(lambda: len(rb.things) == 50)

    run(scenario())


def test_registries_are_copied_and_ordered(pki) -> None:
    async def scenario() -> None:
        first, second, _ = fresh_registries()
        given = [first, second]
        a = pki.nodes["a"]
        async with SyncManager(a.cert, 0, cafile=a.cafile, registries=given) as mgr:
            assert given == [first, second]  # quirk 23: not appended to
            assert mgr.registries == [first, second, error_registry]
            assert mgr.find_syncable("Thing") == (Thing, first)  # quirk 24: in order
        async with SyncManager(
            a.cert, 0, cafile=a.cafile, registries=given[::-1]
        ) as m2:
            assert m2.find_syncable("Thing") == (Thing, second)

    run(scenario())


def test_synchronize_validates_its_arguments(pki) -> None:
    async def scenario() -> None:
        ra, _, _ = fresh_registries()
        async with manager(pki.nodes["a"], ra) as mgr:
            with pytest.raises(ValueError, match="mutually exclusive"):
                mgr.synchronize(Thing(1), response=True, response_for=object())
            note = Note()
            with pytest.raises(UnregisteredSyncClass):
                mgr.synchronize(note)
            assert mgr.synchronize(Thing(1)) is None  # no live connection: no-op
            fut = mgr.synchronize(Thing(1), response=True)
            assert await asyncio.wait_for(fut, 1) is None  # sent nowhere

    run(scenario())


def test_flush_writes_before_the_loop_runs(pki) -> None:
    # synchronize only queues; flush() builds and writes the frames right away, so a
    # sender that keeps working without yielding still gets its bytes out.
    async def scenario() -> None:
        ra, rb, _ = fresh_registries()
        a, b = pki.nodes["a"], pki.nodes["b"]
        async with server(a, ra) as srv, manager(b, rb) as cli:
            await connect_pair(srv, cli, a, b)
            [protocol] = srv.connections
            before = protocol.conn.out_count
            for i in range(3):
                srv.synchronize(ra.add_local(Thing(i, Owner(), color="red")))
            assert protocol.conn.out_count == before  # queued, not yet framed
            srv.flush()
            assert protocol.conn.out_count == before + 3  # framed and written now
            assert not protocol.conn.has_output
            await rb.wait_for(lambda: len(rb.things) == 3)
            srv.flush()  # nothing queued: a no-op
            assert protocol.conn.out_count == before + 3

    run(scenario())


def test_hooks_set_on_live_objects_apply_to_the_next_message(pki) -> None:
    # The receive side works out once per received chunk which hooks are the base
    # ones; a hook installed (or removed) between messages must still be honoured.
    async def scenario() -> None:
        ra, rb, _ = fresh_registries()
        a, b = pki.nodes["a"], pki.nodes["b"]
        async with server(a, ra) as srv, manager(b, rb) as cli:
            await connect_pair(srv, cli, a, b)
            owner = Owner()
            srv.synchronize(ra.add_local(Thing(1, owner, color="red")))
            await rb.wait_for(lambda: 1 in rb.things)
            seen: list[Any] = []

            def listening(msg: dict[str, Any], cls: type, **info: Any) -> bool:
                seen.append(msg.get("color"))
                if msg.get("color") == "forbidden":
                    raise SyncUnauthorized("forbidden color", network_msg=msg)
                return True

            rb.should_listen = listening  # type: ignore[method-assign]
            srv.synchronize(ra.add_local(Thing(2, owner, color="blue")))
            srv.synchronize(ra.add_local(Thing(3, owner, color="forbidden")))
            srv.synchronize(ra.add_local(Thing(4, owner, color="green")))
            await rb.wait_for(lambda: 4 in rb.things)
            assert 2 in rb.things
            assert 3 not in rb.things
            assert seen == ["blue", "forbidden", "green"]
            del rb.should_listen  # back to the class's hook
            srv.synchronize(ra.add_local(Thing(5, owner, color="forbidden")))
            await rb.wait_for(lambda: 5 in rb.things)
            assert seen == ["blue", "forbidden", "green"]

    run(scenario())
