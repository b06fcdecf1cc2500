"""Destinations' lifecycle: callbacks, removal, unknown peers, limits, unreachable owners."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from net_helpers import (
    Owner,
    PortDestination,
    Thing,
    connect_pair,
    fresh_registries,
    manager,
    port_of,
    run,
    server,
    wait_until,
)

from entanglement.interface import SyncNotConnected
from entanglement.network import SyncDestination


def test_on_connect_callback_and_remove_destination(pki) -> None:
    async def scenario() -> None:
        ra, rb, _ = fresh_registries()
        a, b = pki.nodes["a"], pki.nodes["b"]
        async with server(a, ra) as srv, manager(b, rb) as cli:
            cli.initial_backoff = 0.01
            calls: list[str] = []
            await srv.listen_ssl(0, "127.0.0.1")
            srv.add_destination(SyncDestination(b.hash, "client"))
            dest = PortDestination(a.hash, "srv", port_of(srv))
            dest.on_connect(lambda: calls.append("up"))
            await cli.add_destination(dest)
            assert dest.protocol is cli.connections[0]
            await wait_until(lambda: calls == ["up"])
            cli.remove_destination(dest)
            assert dest.protocol is None
            assert cli.dest_by_hash(a.hash) is None
            await wait_until(lambda: not srv.connections)
            await asyncio.sleep(0.1)
            assert not cli.connections  # no reconnect after removal
            assert cli.destinations == set()

    run(scenario())


def test_add_destination_validates(pki) -> None:
    async def scenario() -> None:
        ra, _, _ = fresh_registries()
        async with manager(pki.nodes["a"], ra) as mgr:
            with pytest.raises(ValueError, match="needs a dest_hash and a name"):
                mgr.add_destination(SyncDestination(None, "x"))
            dest = SyncDestination(pki.nodes["b"].hash, "b")
            assert mgr.add_destination(dest) is None  # no host: nothing to connect
            with pytest.raises(KeyError, match="exists already"):
                mgr.add_destination(SyncDestination(pki.nodes["b"].hash, "again"))
            assert mgr.dest_by_hash(str(pki.nodes["b"].hash)) is dest
            assert mgr.dest_by_hash(bytes(pki.nodes["b"].hash)) is dest
            assert mgr.dest_by_hash("garbage") is None

    run(scenario())


def test_unknown_peer_is_refused_by_default(pki, caplog) -> None:
    async def scenario() -> None:
        ra, rb, _ = fresh_registries()
        a, b = pki.nodes["a"], pki.nodes["b"]
        async with server(a, ra) as srv, manager(b, rb) as cli:
            cli.initial_backoff = 10
            await srv.listen_ssl(0, "127.0.0.1")
            dest = PortDestination(a.hash, "srv", port_of(srv))
            cli.add_destination(dest)
            await wait_until(lambda: "unknown peer; closing" in caplog.text)
            assert not srv.connections

    with caplog.at_level(logging.WARNING, logger="entanglement"):
        run(scenario())
    assert str(pki.nodes["b"].hash) in caplog.text


def test_unknown_destination_hook_can_accept(pki) -> None:
    async def scenario() -> None:
        ra, rb, _ = fresh_registries()
        a, b = pki.nodes["a"], pki.nodes["b"]
        srv = server(a, ra)

        async def welcome(protocol: Any) -> Any:
            return SyncDestination(protocol.dest_hash, "newcomer")

        srv.unknown_destination = welcome  # type: ignore[method-assign]
        async with srv, manager(b, rb) as cli:
            await srv.listen_ssl(0, "127.0.0.1")
            await cli.add_destination(PortDestination(a.hash, "srv", port_of(srv)))
            await wait_until(lambda: srv.connections)
            assert srv.dest_by_hash(b.hash).name == "newcomer"
            cli.synchronize(rb.add_local(Thing(1, Owner(), color="hi")))
            await ra.wait_for(lambda: 1 in ra.things)

    run(scenario())


def test_bandwidth_limit_coalesces_under_congestion(pki) -> None:
    async def scenario() -> None:
        ra, rb, _ = fresh_registries()
        a, b = pki.nodes["a"], pki.nodes["b"]
        async with server(a, ra) as srv, manager(b, rb) as cli:
            await srv.listen_ssl(0, "127.0.0.1")
            srv.add_destination(SyncDestination(b.hash, "client", bw_per_sec=1500))
            await cli.add_destination(PortDestination(a.hash, "srv", port_of(srv)))
            await wait_until(lambda: srv.connections)
            protocol = srv.connections[0]
            assert protocol.bwprotocol.bw_per_sec == 1500
            owner = Owner()
            before = protocol.conn.out_count
            for i in range(60):
                srv.synchronize(ra.add_local(Thing(1, owner, size=i, color="c" * 40)))
                await asyncio.sleep(0.005)
            await rb.wait_for(lambda: 1 in rb.things and rb.things[1].size == 59)
            sent = protocol.conn.out_count - before
            assert sent < 60  # paused writes let queued updates coalesce

    run(scenario())


def test_forward_toward_a_disconnected_owner_reports_not_connected(pki) -> None:
    async def scenario() -> None:
        rs, rm, rc = fresh_registries()
        s, m, c = pki.nodes["a"], pki.nodes["b"], pki.nodes["c"]
        async with server(s, rs) as gw, manager(c, rc) as cli:
            owner_mgr = manager(m, rm)
            await gw.listen_ssl(0, "127.0.0.1")
            gw.add_destination(SyncDestination(m.hash, "M"))
            gw.add_destination(SyncDestination(c.hash, "C"))
            await owner_mgr.add_destination(PortDestination(s.hash, "S", port_of(gw)))
            await cli.add_destination(PortDestination(s.hash, "S", port_of(gw)))
            await wait_until(lambda: len(gw.connections) == 2)
            owner_mgr.synchronize(rm.add_local(Thing(9, Owner(), color="red")))
            await rc.wait_for(lambda: 9 in rc.things)
            await owner_mgr.aclose()  # the owner goes away
            await wait_until(lambda: len(gw.connections) == 1)
            proposal = Thing(9, rc.things[9].sync_owner, color="blue")
            future = cli.synchronize(
                proposal, operation="forward", attributes_to_sync=["id", "color"],
                response=True,
            )  # fmt: skip
            with pytest.raises(SyncNotConnected, match="'M'") as info:
                await future
            assert info.value.network_msg["color"] == "blue"  # quirk 8: it arrives

    run(scenario())


def test_explicit_send_while_connecting(pki) -> None:
    class Greeting(SyncDestination):
        async def connected(self, manager: Any, protocol: Any, bwprotocol: Any) -> bool:
            await super().connected(manager, protocol, bwprotocol)
            assert self.dest_hash not in manager._connections  # not live yet
            manager.synchronize(Thing(42, Owner(), color="early"), destinations=[self])
            await protocol.sync_drain()
            return True

    async def scenario() -> None:
        ra, rb, _ = fresh_registries()
        a, b = pki.nodes["a"], pki.nodes["b"]
        async with server(a, ra) as srv, manager(b, rb) as cli:
            await srv.listen_ssl(0, "127.0.0.1")
            srv.add_destination(Greeting(b.hash, "client"))
            await cli.add_destination(PortDestination(a.hash, "srv", port_of(srv)))
            await rb.wait_for(lambda: 42 in rb.things)

    run(scenario())


def test_connect_pair_helper_sees_both_sides(pki) -> None:
    async def scenario() -> None:
        ra, rb, _ = fresh_registries()
        a, b = pki.nodes["a"], pki.nodes["b"]
        async with server(a, ra) as srv, manager(b, rb) as cli:
            at_cli, at_srv = await connect_pair(srv, cli, a, b)
            [p_srv], [p_cli] = srv.connections, cli.connections
            assert p_srv.incoming
            assert not p_cli.incoming
            assert p_srv.dest is at_srv
            assert p_cli.dest is at_cli
            assert p_cli.dest_hash == a.hash
            assert p_srv.der_cert is not None

    run(scenario())


def test_should_listen_overrides_must_call_the_base(pki, caplog) -> None:
    from entanglement.network import SyncServer

    class Careless(SyncServer):
        def should_listen(self, msg: Any, cls: type, **info: Any) -> bool:
            return True  # forgets super().should_listen

    async def scenario() -> None:
        ra, rb, _ = fresh_registries()
        a, b = pki.nodes["a"], pki.nodes["b"]
        srv = Careless(a.cert, 0, key=a.key, cafile=a.cafile, registries=[ra])
        async with srv, manager(b, rb) as cli:
            await connect_pair(srv, cli, a, b)
            assert await cli.synchronize(rb.add_local(Thing(1)), response=True) is None
            assert 1 not in ra.things

    with caplog.at_level(logging.ERROR, logger="entanglement"):
        run(scenario())
    assert "should_listen did not call the base method" in caplog.text


def test_hooks_must_return_exactly_true(pki, caplog) -> None:
    class Sloppy(SyncDestination):
        def should_listen(self, msg: Any, cls: type, **info: Any) -> bool:
            return 1  # type: ignore[return-value]

    async def scenario() -> None:
        ra, rb, _ = fresh_registries()
        a, b = pki.nodes["a"], pki.nodes["b"]
        async with server(a, ra) as srv, manager(b, rb) as cli:
            await srv.listen_ssl(0, "127.0.0.1")
            srv.add_destination(Sloppy(b.hash, "client"))
            await cli.add_destination(PortDestination(a.hash, "srv", port_of(srv)))
            assert await cli.synchronize(rb.add_local(Thing(1)), response=True) is None
            assert 1 not in ra.things

    with caplog.at_level(logging.ERROR, logger="entanglement"):
        run(scenario())
    assert "dest.should_listen returned 1; it must return True or raise" in caplog.text


def test_classes_overriding_sync_receive_are_refused(pki) -> None:
    from entanglement.interface import Synchronizable, SyncRegistry, sync_property

    reg = SyncRegistry()

    class Bad(Synchronizable):
        sync_primary_keys = ("k",)
        sync_registry = reg
        k: int = sync_property()

        @classmethod
        def sync_receive(cls, msg: Any, **info: Any) -> Any:
            return None

    async def scenario() -> None:
        async with manager(pki.nodes["a"], reg) as mgr:
            with pytest.raises(SyntaxError, match="Bad overrides sync_receive"):
                mgr.synchronize(Bad())

    run(scenario())


def test_self_connection_is_read_but_never_registered(pki) -> None:
    async def scenario() -> None:
        ra, _, _ = fresh_registries()
        a = pki.nodes["a"]
        async with server(a, ra) as srv:
            await srv.listen_ssl(0, "127.0.0.1")
            me = PortDestination(a.hash, "myself", port_of(srv))
            await srv.add_destination(me)
            await wait_until(lambda: len(srv._protocols) == 2)
            [live] = srv.connections
            assert not live.incoming  # only the outgoing end counts as live
            [incoming] = [p for p in srv._protocols if p.incoming]
            assert incoming.dest is me
        assert not srv._protocols  # both ends closed on shutdown

    run(scenario())


def test_removing_a_retrying_destination_stops_its_attempts(pki, caplog) -> None:
    async def scenario() -> None:
        ra, _, _ = fresh_registries()
        async with manager(pki.nodes["a"], ra) as mgr:
            mgr.initial_backoff = 0.02
            dest = PortDestination(pki.nodes["b"].hash, "nobody home", 9)
            task = mgr.add_destination(dest)
            await wait_until(lambda: "retrying in" in caplog.text)
            assert dest.dest_hash in mgr._attempts  # still trying while backing off
            with pytest.raises(SyncNotConnected):
                mgr.synchronize(Thing(1), destinations=[dest])
            mgr.remove_destination(dest)
            with pytest.raises(asyncio.CancelledError):
                await task
            assert not mgr._attempts

    with caplog.at_level(logging.WARNING, logger="entanglement"):
        run(scenario())
    assert "'nobody home'" in caplog.text
