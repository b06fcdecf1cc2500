"""``delete`` flood rules (§10.5) over real TLS: who receives what, exactly.

Topology (``LINE``): the owner M, a gateway S, and two leaves C and D behind S::

    M -- S -- C
         |
         D
"""

from __future__ import annotations

from collections import Counter

from flood_helpers import build, item, run, settle

NAMES = {"M": "a", "S": "b", "C": "c", "D": "d"}
LINKS = [("M", "S"), ("C", "S"), ("D", "S")]


def test_owner_delete_reaches_everyone_once(pki) -> None:
    async def scenario() -> None:
        net = await build(pki, NAMES, LINKS)
        try:
            m = net["M"]
            m.publish(item(1, 10))
            await settle(net)
            assert all(1 in n.reg.items for n in net.nodes.values())
            mine = m.reg.items[1]
            m.reg.remove_from_store(mine)
            m.mgr.synchronize(mine, operation="delete", attributes_to_sync=["id"])
            await settle(net)
            assert net["M"].count() == Counter()
            assert net["S"].count() == Counter({("sync", "M"): 1, ("delete", "M"): 1})
            for leaf in ("C", "D"):
                assert net[leaf].count() == Counter(
                    {("sync", "S"): 1, ("delete", "S"): 1}
                )
            deletes = [
                a
                for n in net.nodes.values()
                for a in n.arrivals()
                if a.operation == "delete"
            ]
            assert all(not a.request and not a.response for a in deletes)
            assert {"id", "_sync_owner"} == set(deletes[0].msg) - {
                "_sync_type",
                "_sync_operation",
            }
            assert all(1 not in n.reg.items for n in net.nodes.values())
        finally:
            await net.aclose()

    run(scenario())


def test_delete_request_without_response_is_echoed_to_the_sender_too(pki) -> None:
    # S (a neighbour of the owner) asks for the delete without wanting an answer: the
    # owner's flood includes S (the requester-less echo), and S passes it on.
    async def scenario() -> None:
        net = await build(pki, NAMES, LINKS)
        try:
            m, s = net["M"], net["S"]
            m.publish(item(1, 10))
            await settle(net)
            s.mgr.synchronize(
                s.reg.items[1], destinations=[s.dests["M"]], operation="delete",
                attributes_to_sync=["id"],
            )  # fmt: skip
            await settle(net)
            assert m.count() == Counter({("delete", "S"): 1})
            assert s.count() == Counter({("sync", "M"): 1, ("delete", "M"): 1})
            for leaf in ("C", "D"):
                assert net[leaf].count() == Counter(
                    {("sync", "S"): 1, ("delete", "S"): 1}
                )
            [echo] = [a for a in s.arrivals() if a.operation == "delete"]
            assert not echo.request
            assert not echo.response
            assert all(1 not in n.reg.items for n in net.nodes.values())
        finally:
            await net.aclose()

    run(scenario())


def test_delete_passed_on_from_the_owner_side_excludes_the_sender(pki) -> None:
    # Four nodes in a line: M -- S -- C -- D.  Each relay sends the owner's delete on to
    # everyone but the neighbour it came from.
    async def scenario() -> None:
        net = await build(pki, NAMES, [("S", "M"), ("C", "S"), ("D", "C")])
        try:
            m = net["M"]
            m.publish(item(7, 1))
            await settle(net)
            assert 7 in net["D"].reg.items
            mine = m.reg.items[7]
            m.reg.remove_from_store(mine)
            m.mgr.synchronize(mine, operation="delete", attributes_to_sync=["id"])
            await settle(net)
            assert m.count() == Counter()
            assert net["S"].count() == Counter({("sync", "M"): 1, ("delete", "M"): 1})
            assert net["C"].count() == Counter({("sync", "S"): 1, ("delete", "S"): 1})
            assert net["D"].count() == Counter({("sync", "C"): 1, ("delete", "C"): 1})
            assert all(7 not in n.reg.items for n in net.nodes.values())
        finally:
            await net.aclose()

    run(scenario())


def test_delete_requested_by_a_non_owner_through_a_gateway(pki) -> None:
    # C asks; S relays toward M; M deletes and echoes; S passes the echo on to C (the
    # answer to C's future) and D, never back to M.
    async def scenario() -> None:
        net = await build(pki, NAMES, LINKS)
        try:
            m, s, c, d = (net[n] for n in "MSCD")
            m.publish(item(1, 10))
            await settle(net)
            future = c.mgr.synchronize(
                c.reg.items[1], destinations=[c.dests["S"]], operation="delete",
                attributes_to_sync=["id"], response=True,
            )  # fmt: skip
            answer = await future
            assert answer.id == 1
            await settle(net)
            assert m.count() == Counter({("delete", "S"): 1})
            assert s.count() == Counter(
                {("sync", "M"): 1, ("delete", "C"): 1, ("delete", "M"): 1}
            )
            assert c.count() == Counter({("sync", "S"): 1, ("delete", "S"): 1})
            assert d.count() == Counter({("sync", "S"): 1, ("delete", "S"): 1})
            [request_at_s] = [a for a in s.arrivals() if a.sender == "C"]
            [relayed] = [a for a in m.arrivals() if a.operation == "delete"]
            [echo_at_s] = [
                a for a in s.arrivals() if a.operation == "delete" and a.sender == "M"
            ]
            [echo_at_c] = [a for a in c.arrivals() if a.operation == "delete"]
            [echo_at_d] = [a for a in d.arrivals() if a.operation == "delete"]
            assert request_at_s.request
            assert relayed.request
            assert echo_at_s.response
            assert echo_at_c.response
            assert not echo_at_d.request
            assert not echo_at_d.response
            # The relay kept its copy until the owner's echo arrived.
            assert [op for op, _, _ in s.reg.accepted] == ["sync", "delete", "delete"]
            assert all(1 not in n.reg.items for n in net.nodes.values())
        finally:
            await net.aclose()

    run(scenario())
