"""Responses and errors travelling back through a gateway; no request left hanging.

Topology: the owner M and two leaves C and D, all connected to the gateway S::

    M -- S -- C
         |
         D

Every RESPONSE_NEEDED request must end answered or no-responded (§4.2, §19.3): the
requester's future resolves (or fails) in every scenario below, including crashes of the
application at the owner, floods that reach nobody and a lost connection.
"""

from __future__ import annotations

from collections import Counter

import pytest
from flood_helpers import build, item, run, settle, wait_until

from entanglement.interface import SyncBadOwner, SyncUnauthorized
from entanglement.memory import SyncOwner

NAMES = {"M": "a", "S": "b", "C": "c", "D": "d"}
HUB = [("M", "S"), ("C", "S"), ("D", "S")]


def test_response_to_a_sync_travels_back_through_the_gateway(pki) -> None:
    # M sends a sync asking for a response; S relays it (chained) to C and D; C's
    # application answers with an object C owns, which S floods on: to M with
    # _resp_for (M's future resolves with it) and to D as a plain sync.
    async def scenario() -> None:
        net = await build(pki, NAMES, HUB)
        try:
            m, s, c, d = (net[n] for n in "MSCD")
            await net.announce("M", "C")
            reply = item(50, 5, "from C")
            c.reg.store_synchronize(reply)
            await settle(net)
            c.reg.reply_with = reply
            answer = await m.reg.store_synchronize(item(1, 10, "ask"), response=True)
            assert answer is m.reg.items[50]
            assert answer.label == "from C"
            assert answer.sync_owner is m.owner_of(c)
            await settle(net)
            assert [(a.msg["id"], a.response) for a in m.arrivals()] == [
                (50, False),
                (50, True),
            ]
            assert [
                (a.sender, a.msg["id"], a.request, a.response) for a in s.arrivals()
            ] == [
                ("C", 50, False, False),
                ("M", 1, True, False),
                ("C", 50, False, True),
            ]
            assert [(a.msg["id"], a.request) for a in c.arrivals()] == [(1, True)]
            assert [(a.msg["id"], a.request) for a in d.arrivals()] == [
                (50, False),
                (1, True),
                (50, False),
            ]
        finally:
            await net.aclose()

    run(scenario())


def test_sync_request_whose_floods_reach_nobody_resolves_none(pki) -> None:
    # The leaves have nobody to flood to: each sends _no_resp_for to S, and S then
    # tells M, whose future resolves with None.
    async def scenario() -> None:
        net = await build(pki, NAMES, HUB)
        try:
            m, c, d = net["M"], net["C"], net["D"]
            await net.announce("M")
            assert await m.reg.store_synchronize(item(1, 10), response=True) is None
            await settle(net)
            assert [a.request for a in c.arrivals()] == [True]
            assert [a.request for a in d.arrivals()] == [True]
            assert m.count() == Counter()
        finally:
            await net.aclose()

    run(scenario())


def test_error_from_the_owner_reaches_the_requester_two_hops_away(pki) -> None:
    # M owns item 5 under its first owner and has not published it.  C proposes a
    # change naming M's second owner: S cannot tell (it has no copy) and relays; M
    # refuses with SyncBadOwner, which S relays back to C along the request path.
    async def scenario() -> None:
        net = await build(pki, NAMES, HUB)
        try:
            m, s, c, d = (net[n] for n in "MSCD")
            await net.announce("M")
            second = SyncOwner()
            m.reg.owners.add(second)
            m.mgr.synchronize(second)
            unpublished = item(5, 1)
            unpublished.sync_owner = m.reg.local_owner
            m.reg.add_to_store(unpublished)
            await settle(net)
            proposal = item(5, 2)
            proposal.sync_owner = c.reg.owners[second.id]
            future = c.mgr.synchronize(
                proposal, destinations=[c.dests["S"]], operation="forward",
                response=True,
            )  # fmt: skip
            with pytest.raises(SyncBadOwner, match="belongs to another owner"):
                await future
            await settle(net)
            assert m.reg.items[5].value == 1
            assert 5 not in s.reg.items
            assert m.count() == Counter({("forward", "S"): 1})
            assert s.count("SyncBadOwner") == Counter({("error", "M"): 1})
            assert c.count("SyncBadOwner") == Counter({("error", "S"): 1})
            assert d.count("SyncBadOwner") == m.count("SyncBadOwner") == Counter()
            [at_s] = s.arrivals("SyncBadOwner")
            [at_c] = c.arrivals("SyncBadOwner")
            assert at_s.response
            assert at_c.response
            assert at_c.msg["network_msg"]["value"] == 2
        finally:
            await net.aclose()

    run(scenario())


def test_error_from_a_leaf_answers_the_owner_sync_request(pki) -> None:
    # The reverse direction: the request goes from the owner outward; C refuses it
    # with a SyncError and the error travels back to M through S.
    async def scenario() -> None:
        net = await build(pki, NAMES, HUB)
        try:
            m, s, c = net["M"], net["S"], net["C"]
            await net.announce("M")
            c.dests["S"].refuse_on_receive = "ask"
            with pytest.raises(SyncUnauthorized, match="C does not listen"):
                await m.reg.store_synchronize(item(1, 10, "ask"), response=True)
            await settle(net)
            assert s.count("SyncUnauthorized") == Counter({("error", "C"): 1})
            assert m.count("SyncUnauthorized") == Counter({("error", "S"): 1})
            assert 1 not in c.reg.items
        finally:
            await net.aclose()

    run(scenario())


@pytest.mark.parametrize("path", ["direct", "through S"])
def test_owner_crashing_on_a_request_resolves_none(pki, caplog, path) -> None:
    # A non-SyncError at the owner is logged there and nothing is sent back but the
    # "no response", which S passes on to C.
    async def scenario() -> None:
        links = [("C", "M"), ("D", "M")] if path == "direct" else HUB
        names = NAMES if path != "direct" else {"M": "a", "C": "c", "D": "d"}
        net = await build(pki, names, links)
        try:
            m, c = net["M"], net["C"]
            m.publish(item(1, 10))
            await settle(net)
            proposal = item(1, 11, "boom")
            proposal.sync_owner = c.owner_of(m)
            hop = c.dests["M" if path == "direct" else "S"]
            future = c.mgr.synchronize(
                proposal, destinations=[hop], operation="forward", response=True
            )
            assert await future is None
            await settle(net)
            assert m.reg.items[1].value == 10
            assert c.count() == Counter({("sync", hop.name): 1})
            assert "the owner's application crashed" in caplog.text
        finally:
            await net.aclose()

    run(scenario())


def test_connection_lost_with_a_relayed_request_outstanding(pki) -> None:
    # The link M -> S is throttled, so M's answer to the relayed forward waits in M's
    # queue; M goes down before sending it.  S drops its awaited entry and C's future
    # resolves with None.
    async def scenario() -> None:
        net = await build(pki, NAMES, HUB, {"M>S": {"bw_per_sec": 100}})
        try:
            m, s, c = net["M"], net["S"], net["C"]
            m.publish(item(1, 10))
            await wait_until(lambda: 1 in c.reg.items)
            proposal = item(1, 11)
            proposal.sync_owner = c.owner_of(m)
            future = c.mgr.synchronize(
                proposal, destinations=[c.dests["S"]], operation="forward",
                attributes_to_sync=["id", "value"], response=True,
            )  # fmt: skip
            await wait_until(lambda: ("forward", 1, 11) in m.reg.accepted)
            assert not future.done()
            await m.mgr.aclose()
            assert await future is None
            await settle(net)
            assert s.reg.items[1].value == c.reg.items[1].value == 10
            assert c.count() == Counter({("sync", "S"): 1})
        finally:
            await net.aclose()

    run(scenario())


def test_connection_lost_with_the_relay_still_queued(pki) -> None:
    # This time the relayed forward itself waits in S's queue toward M (S's budget is
    # spent on a large frame); M goes down, the queued element is dropped and C's
    # future resolves with None.
    async def scenario() -> None:
        net = await build(pki, NAMES, HUB, {"S>M": {"bw_per_sec": 100}})
        try:
            m, s, c = net["M"], net["S"], net["C"]
            m.publish(item(1, 10))
            await wait_until(lambda: 1 in c.reg.items)
            s.publish(item(2, 0, "x" * 500))  # S -> M now waits for seconds
            proposal = item(1, 11)
            proposal.sync_owner = c.owner_of(m)
            future = c.mgr.synchronize(
                proposal, destinations=[c.dests["S"]], operation="forward",
                attributes_to_sync=["id", "value"], response=True,
            )  # fmt: skip
            await wait_until(lambda: ("forward", "C") in s.count())
            assert not future.done()
            await m.mgr.aclose()
            assert await future is None
            await settle(net)
            assert ("forward", 1, 11) not in m.reg.accepted
            assert s.reg.items[1].value == c.reg.items[1].value == 10
        finally:
            await net.aclose()

    run(scenario())
