"""Connections: identity checks, refusals, reconnects, unix sockets, loop styles."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
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

from entanglement._exceptions import WriteError
from entanglement._hashes import DestHash
from entanglement.interface import SyncNotConnected, WrongSyncDestination
from entanglement.network import (
    OutgoingUnixDestination,
    SyncDestination,
    SyncManager,
    SyncServer,
)


def test_wrong_dest_hash_gives_up_for_good(pki, caplog) -> None:
    async def scenario() -> None:
        ra, rb, _ = fresh_registries()
        a, b, c = pki.nodes["a"], pki.nodes["b"], pki.nodes["c"]
        async with server(a, ra) as srv, manager(b, rb) as cli:
            await srv.listen_ssl(0, "127.0.0.1")
            srv.add_destination(SyncDestination(b.hash, "client"))
            cli.initial_backoff = 0.01
            dest = PortDestination(c.hash, "not-a", port_of(srv))  # expects c
            with pytest.raises(WrongSyncDestination, match=str(a.hash)):
                await cli.add_destination(dest)
            await asyncio.sleep(0.1)
            assert dest.dest_hash not in cli._attempts  # no retry
            assert not cli.connections

    with caplog.at_level(logging.ERROR, logger="entanglement"):
        run(scenario())
    assert "'not-a'" in caplog.text
    assert "giving up" in caplog.text


def test_untrusted_certificate_is_refused(pki, caplog) -> None:
    async def scenario() -> None:
        ra, _rb, _ = fresh_registries()
        a, rogue = pki.nodes["a"], pki.rogue
        async with server(a, ra) as srv:
            await srv.listen_ssl(0, "127.0.0.1")
            srv.add_destination(SyncDestination(rogue.hash, "rogue"))
            # The rogue trusts our CA (so it accepts the server) but holds a foreign cert.
            cli = SyncManager(rogue.cert, 0, key=rogue.key, cafile=a.cafile)
            cli.initial_backoff = 5.0
            async with cli:
                cli.add_destination(PortDestination(a.hash, "srv", port_of(srv)))
                await wait_until(lambda: "refused a TLS" in caplog.text)
                assert not srv.connections

    with caplog.at_level(logging.WARNING, logger="entanglement"):
        run(scenario())
    assert "refused a TLS connection at 127.0.0.1:" in caplog.text


def test_client_without_certificate_is_refused(pki, caplog) -> None:
    async def scenario() -> None:
        ra, _, _ = fresh_registries()
        a = pki.nodes["a"]
        async with server(a, ra) as srv:
            await srv.listen_ssl(0, "127.0.0.1")
            import ssl

            ctx = ssl.create_default_context(cafile=str(a.cafile))
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port_of(srv), ssl=ctx
            )
            assert await reader.read() == b""  # closed by the server
            writer.close()
            assert not srv.connections

    with caplog.at_level(logging.WARNING, logger="entanglement"):
        run(scenario())
    assert "presented no TLS certificate" in caplog.text


def test_dropped_connection_reconnects_and_objects_flow(pki) -> None:
    async def scenario() -> None:
        ra, rb, _ = fresh_registries()
        a, b = pki.nodes["a"], pki.nodes["b"]
        async with server(a, ra) as srv, manager(b, rb) as cli:
            cli.initial_backoff = 0.05
            lost: list[Any] = []
            at_cli, _ = await connect_pair(srv, cli, a, b)
            at_cli.on_connection_lost(lost.append)
            first = srv.connections[0]
            first.abort()
            await wait_until(
                lambda: srv.connections and srv.connections[0] is not first
            )
            await wait_until(lambda: at_cli.dest_hash in cli._connections)
            assert lost == [cli]
            srv.synchronize(ra.add_local(Thing(4, Owner(), color="after")))
            await rb.wait_for(lambda: 4 in rb.things)

    run(scenario())


def test_backoff_resets_after_a_lasting_connection(pki) -> None:
    async def scenario() -> None:
        ra, rb, _ = fresh_registries()
        a, b = pki.nodes["a"], pki.nodes["b"]
        async with server(a, ra) as srv, manager(b, rb) as cli:
            cli.initial_backoff = 0.05
            at_cli, _ = await connect_pair(srv, cli, a, b)
            key = at_cli.dest_hash
            cli._backoff[key] = 0.2  # as if earlier attempts had failed
            seen: list[tuple[float, float, float]] = []
            at_cli.on_connection_lost(
                lambda m: seen.append(
                    (m.loop.time(), at_cli.connect_at, m._backoff[key])
                )
            )
            first = cli._connections[key]
            await asyncio.sleep(0.3)  # lives longer than the current delay
            srv.connections[0].abort()
            await wait_until(lambda: seen)
            [(when, connect_at, backoff)] = seen
            assert connect_at <= when  # reconnect at once ...
            assert backoff == 0.05  # ... and the delay is back to its start (quirk 14)
            await wait_until(lambda: cli._connections.get(key) not in (None, first))

    run(scenario())


def test_unix_sockets(pki) -> None:
    async def scenario(path: str) -> None:
        ra, rb, _ = fresh_registries()
        async with SyncServer(None, None, registries=[ra]) as srv:
            await srv.listen_unix(path)
            me = DestHash.from_unix_dest_info(
                path, os.getpid(), os.getuid(), os.getgid()
            )
            srv.add_destination(SyncDestination(me, "local client"))
            async with SyncManager(None, None, registries=[rb]) as cli:
                any_hash = DestHash.from_string("the server")
                await cli.add_destination(
                    OutgoingUnixDestination(any_hash, "srv", path)
                )
                await wait_until(lambda: srv.connections)
                assert srv.connections[0].dest_hash == me
                srv.synchronize(ra.add_local(Thing(1, Owner(), color="unix")))
                cli.synchronize(rb.add_local(Thing(2, Owner(), color="back")))
                await rb.wait_for(lambda: 1 in rb.things)
                await ra.wait_for(lambda: 2 in ra.things)

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "sync.sock")
        run(scenario(path))
        assert not os.path.exists(path)  # removed on close


def test_original_style_with_run_until_complete(pki) -> None:
    ra, rb, _ = fresh_registries()
    a, b = pki.nodes["a"], pki.nodes["b"]
    srv = server(a, ra)  # no running loop: it creates and owns one
    assert not srv.loop.is_running()
    cli = SyncManager(
        b.cert, 0, key=b.key, cafile=b.cafile, loop=srv.loop, registries=[rb]
    )
    srv.listen_ssl(0, "127.0.0.1")  # listens at once
    srv.add_destination(SyncDestination(b.hash, "client"))
    connect = cli.add_destination(PortDestination(a.hash, "srv", port_of(srv)))
    srv.loop.run_until_complete(asyncio.wait_for(connect, 10))
    srv.loop.run_until_complete(
        asyncio.wait_for(wait_until(lambda: srv.connections), 10)
    )
    srv.synchronize(ra.add_local(Thing(1, Owner(), color="classic")))
    srv.loop.run_until_complete(
        asyncio.wait_for(rb.wait_for(lambda: 1 in rb.things), 10)
    )
    cli.close()
    srv.close()
    assert srv.loop.is_closed()


class FailingConnected(SyncDestination):
    async def connected(self, manager: Any, protocol: Any, bwprotocol: Any) -> bool:
        raise RuntimeError("refusing this peer in connected()")


def test_incoming_connection_closed_when_connected_raises(pki, caplog) -> None:
    async def scenario() -> None:
        ra, rb, _ = fresh_registries()
        a, b = pki.nodes["a"], pki.nodes["b"]
        async with server(a, ra) as srv, manager(b, rb) as cli:
            cli.initial_backoff = 10
            await srv.listen_ssl(0, "127.0.0.1")
            srv.add_destination(FailingConnected(b.hash, "client"))
            dest = PortDestination(a.hash, "srv", port_of(srv))
            cli.add_destination(dest)
            await wait_until(lambda: dest.connect_at > 0)  # the client saw it close
            assert not srv.connections
            assert not srv._attempts

    with caplog.at_level(logging.ERROR, logger="entanglement"):
        run(scenario())
    assert "connected() failed; closing" in caplog.text


class DrainingConnected(SyncDestination):
    """Like the SQL resync: queue something and drain inside connected()."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.drain_errors: list[BaseException] = []

    async def connected(self, manager: Any, protocol: Any, bwprotocol: Any) -> bool:
        await super().connected(manager, protocol, bwprotocol)
        bwprotocol.bw_per_sec = 1  # the first write exhausts the budget
        for i in range(200):
            manager.synchronize(
                Thing(i, Owner(), color="x" * 2000), destinations=[self]
            )
        manager.loop.call_soon(protocol.abort)  # right after the first write
        try:
            await protocol.sync_drain()
        except WriteError as exc:
            self.drain_errors.append(exc)
            raise
        return True


def test_drain_fails_when_the_connection_is_lost(pki) -> None:
    async def scenario() -> None:
        ra, rb, _ = fresh_registries()
        a, b = pki.nodes["a"], pki.nodes["b"]
        async with server(a, ra) as srv, manager(b, rb) as cli:
            cli.initial_backoff = 10
            await srv.listen_ssl(0, "127.0.0.1")
            at_srv = DrainingConnected(b.hash, "client")
            srv.add_destination(at_srv)
            cli.add_destination(PortDestination(a.hash, "srv", port_of(srv)))
            await wait_until(lambda: at_srv.drain_errors)
            assert "lost before draining" in str(at_srv.drain_errors[0])

    run(scenario())


def test_connecting_destination_without_connection_is_not_connected(pki) -> None:
    async def scenario() -> None:
        ra, _, _ = fresh_registries()
        a, b = pki.nodes["a"], pki.nodes["b"]
        async with manager(a, ra) as mgr:
            # Nothing listens there: the destination is "connecting" for a while.
            dest = PortDestination(b.hash, "away", 9)
            mgr.add_destination(dest)
            with pytest.raises(SyncNotConnected, match="'away'"):
                mgr.synchronize(Thing(1), destinations=[dest])

    run(scenario())


def test_mutual_open_keeps_one_connection(pki) -> None:
    async def scenario() -> None:
        ra, rb, _ = fresh_registries()
        a, b = pki.nodes["a"], pki.nodes["b"]
        async with server(a, ra) as sa, server(b, rb) as sb:
            await sa.listen_ssl(0, "127.0.0.1")
            await sb.listen_ssl(0, "127.0.0.1")
            to_b = PortDestination(b.hash, "b", port_of(sb))
            to_a = PortDestination(a.hash, "a", port_of(sa))
            sa.add_destination(to_b)
            sb.add_destination(to_a)
            await wait_until(lambda: sa.connections and sb.connections)
            await asyncio.sleep(0.8)  # let any losing connection be dropped
            [pa], [pb] = sa.connections, sb.connections
            assert pa.transport.get_extra_info(
                "sockname"
            ) == pb.transport.get_extra_info("peername")
            smaller = min((a, b), key=lambda n: bytes(n.hash))
            winner = pa if smaller is a else pb
            assert not winner.incoming  # the smaller hash's connection survived
            sa.synchronize(ra.add_local(Thing(1, Owner(), color="one")))
            await rb.wait_for(lambda: 1 in rb.things)

    run(scenario())
