"""Issue 10 item 14: a closed connection is freed by reference counting alone.

Closed connections used to be freed only by the cyclic garbage collector (a cycle
through the bandwidth protocol, the sans-IO connection's wake-up closure and the
transport), so a server accepting many short connections grew by hundreds of MiB
between collections.  With the collector disabled, every object of a closed
connection (both ends: accepted and outgoing) must be gone once it has closed.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

from issue10_helpers import (
    RAW_NAME,
    Owner,
    RawPeer,
    Thing,
    run,
    thing_msg,
    wait_until,
)
from net_helpers import (
    PortDestination,
    fresh_registries,
    manager,
    port_of,
    server,
)

from entanglement.network import SyncDestination


def parts(protocol: Any) -> list[weakref.ref[Any]]:
    """Weak references to one connection's objects."""
    return [
        weakref.ref(protocol),
        weakref.ref(protocol.conn),
        weakref.ref(protocol.conn.queue),
        weakref.ref(protocol.bwprotocol),
    ]


async def scenario(pki: Any) -> list[str]:
    ra, rb, _ = fresh_registries()
    a, b, d = pki.nodes["a"], pki.nodes["b"], pki.nodes["d"]
    alive: list[str] = []
    async with server(a, ra) as srv, manager(b, rb) as cli:
        await srv.listen_ssl(0, "127.0.0.1")
        srv.add_destination(SyncDestination(b.hash, "client"))
        srv.add_destination(SyncDestination(d.hash, RAW_NAME))
        to_a = PortDestination(a.hash, "server", port_of(srv))
        refs: dict[str, list[weakref.ref[Any]]] = {}
        for round_ in range(3):
            # A manager's outgoing connection and the server's end of it.
            if round_ == 0:
                await cli.add_destination(to_a)  # type: ignore[misc]
            else:
                await wait_until(lambda: to_a.dest_hash in cli._connections)
            await wait_until(lambda: b.hash in srv._connections)
            srv.synchronize(ra.add_local(Thing(round_, Owner(), color="x")))
            await rb.wait_for(lambda r=round_: r in rb.things)
            refs[f"outgoing {round_}"] = parts(cli._connections[a.hash])
            refs[f"accepted {round_}"] = parts(srv._connections[b.hash])
            # A raw peer's connection: a request answered, then the peer goes away.
            raw = await RawPeer.connect(port_of(srv), d.cert, d.key, d.cafile)
            await wait_until(lambda: d.hash in srv._connections)
            raw.request(thing_msg(weight=1))
            await raw.receive()
            refs[f"raw {round_}"] = parts(srv._connections[d.hash])
            await raw.close()
            await wait_until(lambda: d.hash not in srv._connections)
            # The server drops the manager's connection; the manager reconnects.
            srv._connections[b.hash].abort()
            await wait_until(lambda: b.hash not in srv._connections)
        for _ in range(5):
            await asyncio.sleep(0.01)  # let the closing callbacks run
        # The last outgoing/accepted pair may be live again: only closed ones count.
        live = {id(p) for p in (*cli._connections.values(), *srv._connections.values())}
        for name, rs in refs.items():
            protocol = rs[0]()
            if protocol is not None and id(protocol) in live:
                continue
            del protocol
            alive.extend(f"{name}: {r()!r}" for r in rs if r() is not None)
    return alive


def test_closed_connections_are_freed_without_the_cyclic_collector(pki) -> None:
    gc.collect()
    gc.disable()
    try:
        alive = run(scenario(pki))
    finally:
        gc.enable()
    assert alive == []


async def closed_on_bad_header(pki: Any) -> list[str]:
    ra, _, _ = fresh_registries()
    a, d = pki.nodes["a"], pki.nodes["d"]
    async with server(a, ra) as srv:
        await srv.listen_ssl(0, "127.0.0.1")
        srv.add_destination(SyncDestination(d.hash, RAW_NAME))
        raw = await RawPeer.connect(port_of(srv), d.cert, d.key, d.cafile)
        await wait_until(lambda: d.hash in srv._connections)
        refs = parts(srv._connections[d.hash])
        raw.send_payload(b"{}", 0x0004)  # an unknown critical flag: fatal
        await wait_until(lambda: d.hash not in srv._connections)
        await raw.close()
        for _ in range(5):
            await asyncio.sleep(0.01)
        return [repr(r()) for r in refs if r() is not None]


def test_a_connection_closed_on_a_framing_error_is_freed(pki) -> None:
    # The poisoned frame buffer keeps the error it raised; its traceback held the
    # frames of the receive loop, and so the protocol, in a cycle.
    gc.collect()
    gc.disable()
    try:
        alive = run(closed_on_bad_header(pki))
    finally:
        gc.enable()
    assert alive == []
