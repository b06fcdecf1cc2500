"""Issue 10 item 15: receiving is fair between connections.

One peer's flood of 100,000 small frames used to hold a second, well-behaved peer
nearly still: every received chunk (a TLS read holds thousands of small frames) was
handled whole before the event loop could serve anyone else.  Each connection now gets
a bounded amount of work per loop turn.

What is asserted is progress, not speed: while the flood is being handled, the second
peer's requests keep being answered, and between two of its answers the server handles
at most a few thousand of the flood's frames (before the fix: tens of thousands).
"""

from __future__ import annotations

import asyncio
from typing import Any

from issue10_helpers import RawPeer, run, wait_until
from net_helpers import port_of, server

from entanglement.interface import Synchronizable, SyncRegistry, sync_property
from entanglement.network import SyncDestination
from entanglement.operations import sync

FLOOD = 100_000
# Flood frames the server may handle between two answers to the other peer.  A loop
# turn handles at most 256 frames of one connection; a round trip of the other peer
# takes a few turns.  Before the fix a single turn handled a whole TLS read (~7,000
# of these frames) and the gaps were several such reads.
MAX_GAP = 5_000


class PingRegistry(SyncRegistry):
    """Counts what it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.register_operation("sync", sync)
        self.count = 0

    def incoming_sync(self, obj: Any, **info: Any) -> None:
        self.count += 1


class Ping(Synchronizable):
    """An ephemeral object (never stored, never flooded)."""

    sync_primary_keys = ("n",)
    n: int = sync_property()


async def scenario(pki: Any) -> tuple[list[int], int]:
    reg = PingRegistry()
    reg.register_syncable("Ping", Ping)
    a, c, d = pki.nodes["a"], pki.nodes["c"], pki.nodes["d"]
    async with server(a, reg) as srv:
        await srv.listen_ssl(0, "127.0.0.1")
        srv.add_destination(SyncDestination(c.hash, "polite"))
        srv.add_destination(SyncDestination(d.hash, "flooder"))
        port = port_of(srv)
        polite = await RawPeer.connect(port, c.cert, c.key, c.cafile)
        flooder = await RawPeer.connect(port, d.cert, d.key, d.cafile)
        await wait_until(lambda: len(srv.connections) == 2)
        flood_conn = srv._connections[d.hash].conn
        frame = b'{"n": 1, "_sync_type": "Ping"}'
        header = len(frame).to_bytes(4, "big") + bytes(4)
        flooder.writer.write((header + frame) * FLOOD)
        await wait_until(lambda: flood_conn.in_count > 0)
        seen: list[int] = []
        while flood_conn.in_count < FLOOD:
            number = polite.request({"_sync_type": "NoSuchClass"})
            answer = await polite.receive()
            assert answer.msg["_resp_for"] == [number]
            seen.append(flood_conn.in_count)
        await wait_until(lambda: reg.count == FLOOD)
        rounds = len(seen)
        await polite.close()
        await flooder.close()
        await asyncio.sleep(0)
    return seen, rounds


def test_a_flood_does_not_starve_another_peer(pki) -> None:
    seen, rounds = run(scenario(pki), timeout=60)
    gaps = [b - a for a, b in zip([0, *seen], seen, strict=False)]
    assert max(gaps) <= MAX_GAP, (max(gaps), rounds)
    assert rounds >= FLOOD // MAX_GAP
