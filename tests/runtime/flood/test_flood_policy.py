"""Send policy and coalescing seen from the receivers (§7.2, §7.3, §7.6).

Topology: the owner M and two leaves C and D, all connected to the gateway S::

    M -- S -- C
         |
         D
"""

from __future__ import annotations

import asyncio
from collections import Counter

from flood_helpers import build, item, run, settle

NAMES = {"M": "a", "S": "b", "C": "c", "D": "d"}
HUB = [("M", "S"), ("C", "S"), ("D", "S")]


def test_should_send_refuses_one_destination_among_several(pki) -> None:
    async def scenario() -> None:
        net = await build(pki, NAMES, HUB)
        try:
            m, s, c, d = (net[n] for n in "MSCD")
            s.dests["D"].refuse_labels.add("secret")
            m.publish(item(1, 1, "secret"))
            m.publish(item(2, 2, "public"))
            await settle(net)
            assert s.count() == Counter({("sync", "M"): 2})
            assert c.count() == Counter({("sync", "S"): 2})
            assert [a.msg["id"] for a in d.arrivals()] == [2]
            assert set(c.reg.items) == {1, 2}
            assert set(d.reg.items) == {2}
            # The refusal is per destination and per object: later updates of the
            # public object still reach D, those of the secret one still reach C.
            m.reg.items[1].value = 10
            m.reg.items[2].value = 20
            m.mgr.synchronize(m.reg.items[1])
            m.mgr.synchronize(m.reg.items[2])
            await settle(net)
            assert c.count() == Counter({("sync", "S"): 4})
            assert [(a.msg["id"], a.msg["value"]) for a in d.arrivals()] == [
                (2, 2),
                (2, 20),
            ]
        finally:
            await net.aclose()

    run(scenario())


def test_coalescing_on_a_throttled_link(pki) -> None:
    # S -> C is throttled to 300 B/s: while S's writer waits, the updates of the one
    # object coalesce in S's queue for C.  S -> D is not throttled and sees them all.
    async def scenario() -> None:
        net = await build(pki, NAMES, HUB, {"S>C": {"bw_per_sec": 300}})
        try:
            m, s, c, d = (net[n] for n in "MSCD")
            obj = item(1, 0, "x" * 60)
            m.publish(obj)
            for value in range(1, 51):
                await asyncio.sleep(0.005)  # one frame per update on M -> S
                obj.value = value
                m.mgr.synchronize(obj)
            await settle(net)
            assert s.count() == Counter({("sync", "M"): 51})
            # (S may read several of M's frames at once and coalesce them for D too,
            # but only on a loaded machine; C's link is slow by construction.)
            at_d = [a.msg["value"] for a in d.arrivals()]
            received = [a.msg["value"] for a in c.arrivals()]
            assert len(received) <= 10  # far fewer frames than updates
            assert len(received) < len(at_d)
            assert received[-1] == at_d[-1] == 50  # the final value wins
            assert received == sorted(set(received))
            assert at_d == sorted(set(at_d))
            assert c.reg.items[1].value == d.reg.items[1].value == 50
            to_c = s.dests["C"].protocol
            to_d = s.dests["D"].protocol
            assert to_c is not None
            assert to_d is not None
            assert to_d.conn.out_count - to_c.conn.out_count == len(at_d) - len(
                received
            )
        finally:
            await net.aclose()

    run(scenario())
