"""Edge cases of answering: a policy refusing the requester, an answer the gateway
refuses, an owner with other neighbours, relays toward an owner that is gone (§4.2,
§6.2, §10.4-§10.6)."""

from __future__ import annotations

from collections import Counter

import pytest
from flood_helpers import Item, build, item, run, settle

from entanglement.interface import SyncNotConnected, SyncUnauthorized

NAMES = {"M": "a", "S": "b", "C": "c", "D": "d"}
HUB = [("M", "S"), ("C", "S"), ("D", "S")]


def test_policy_refusing_the_requester_gives_it_no_response(pki) -> None:
    # §4.2: the owner's flood targets C (so the context counts as answered) but M's
    # send policy refuses C: nothing is queued for C, which gets "no response".
    async def scenario() -> None:
        net = await build(pki, {"M": "a", "C": "c", "D": "d"}, [("C", "M"), ("D", "M")])
        try:
            m, c, d = net["M"], net["C"], net["D"]
            m.publish(item(1, 10))
            await settle(net)
            m.dests["C"].refuse_labels.add("hush")
            proposal = item(1, 11, "hush")
            proposal.sync_owner = c.owner_of(m)
            future = c.mgr.synchronize(
                proposal, destinations=[c.dests["M"]], operation="forward",
                response=True,
            )  # fmt: skip
            assert await future is None
            await settle(net)
            assert m.reg.items[1].label == "hush"
            assert c.count() == Counter({("sync", "M"): 1})
            assert d.count() == Counter({("sync", "M"): 2})
            assert c.reg.items[1].value == 10
        finally:
            await net.aclose()

    run(scenario())


def test_owner_answer_also_reaches_its_other_neighbours(pki) -> None:
    # C -- S -- M -- D: the owner's sync answers S (which answers C) and goes to D
    # as a plain sync.
    async def scenario() -> None:
        net = await build(pki, NAMES, [("S", "M"), ("C", "S"), ("D", "M")])
        try:
            m, s, c, d = (net[n] for n in "MSCD")
            m.publish(item(1, 10))
            await settle(net)
            proposal = item(1, 12)
            proposal.sync_owner = c.owner_of(m)
            answer = await c.mgr.synchronize(
                proposal, destinations=[c.dests["S"]], operation="forward",
                attributes_to_sync=["id", "value"], response=True,
            )  # fmt: skip
            assert answer.value == 12
            await settle(net)
            assert m.count() == Counter({("forward", "S"): 1})
            assert s.count() == Counter({("sync", "M"): 2, ("forward", "C"): 1})
            assert c.count() == Counter({("sync", "S"): 2})
            assert d.count() == Counter({("sync", "M"): 2})
            assert [a.response for a in s.arrivals() if a.operation == "sync"] == [
                False, True,
            ]  # fmt: skip
            assert [(a.request, a.response) for a in d.arrivals()] == [
                (False, False)
            ] * 2
            assert all(n.reg.items[1].value == 12 for n in net.nodes.values())
        finally:
            await net.aclose()

    run(scenario())


def test_answer_refused_by_the_gateway_resolves_the_requester_none(pki) -> None:
    # S refuses the owner's answer (its destination for M raises SyncUnauthorized):
    # the error goes to M unsolicited and C's future resolves with None.
    async def scenario() -> None:
        net = await build(pki, NAMES, HUB)
        try:
            m, s, c = net["M"], net["S"], net["C"]
            m.publish(item(1, 10))
            await settle(net)
            s.dests["M"].refuse_on_receive = "odd"
            proposal = item(1, 13, "odd")
            proposal.sync_owner = c.owner_of(m)
            future = c.mgr.synchronize(
                proposal, destinations=[c.dests["S"]], operation="forward",
                response=True,
            )  # fmt: skip
            assert await future is None
            await settle(net)
            [error] = m.arrivals("SyncUnauthorized")
            assert (error.sender, error.request, error.response) == ("S", False, False)
            assert m.reg.items[1].label == "odd"
            assert s.reg.items[1].label == c.reg.items[1].label == ""
            assert c.count("SyncUnauthorized") == Counter()
        finally:
            await net.aclose()

    run(scenario())


@pytest.mark.parametrize("operation", ["forward", "delete", "create"])
def test_relay_toward_a_gone_owner_answers_not_connected(pki, operation) -> None:
    async def scenario() -> None:
        net = await build(pki, NAMES, HUB)
        try:
            m, s, c = net["M"], net["S"], net["C"]
            m.publish(item(1, 10))
            await settle(net)
            await m.mgr.aclose()
            request = item(1, 11) if operation != "create" else Item()
            if operation == "create":
                request.value = 11
            request.sync_owner = c.owner_of(m)
            future = c.mgr.synchronize(
                request, destinations=[c.dests["S"]], operation=operation,
                response=True,
            )  # fmt: skip
            with pytest.raises(SyncNotConnected, match="'M'"):
                await future
            await settle(net)
            assert c.count("SyncNotConnected") == Counter({("error", "S"): 1})
            assert s.count() == Counter({("sync", "M"): 1, (operation, "C"): 1})
            assert s.reg.items[1].value == c.reg.items[1].value == 10
        finally:
            await net.aclose()

    run(scenario())


def test_two_requesters_coalesced_at_the_gateway_are_both_answered(pki) -> None:
    # S -> M is busy (throttled after a large frame), so the forwards of C and D for
    # the same object merge in S's queue: one relayed forward (attributes united),
    # one answer from M, and S answers both requesters from the merged context.
    async def scenario() -> None:
        net = await build(pki, NAMES, HUB, {"S>M": {"bw_per_sec": 2000}})
        try:
            m, s, c, d = (net[n] for n in "MSCD")
            m.publish(item(1, 10, "old"))
            await settle(net)
            s.publish(item(2, 0, "x" * 1000))  # fills S's budget toward M
            from_c = item(1, 11)
            from_c.sync_owner = c.owner_of(m)
            from_d = item(1, 0, "new")
            from_d.sync_owner = d.owner_of(m)
            futures = [
                c.mgr.synchronize(
                    from_c, destinations=[c.dests["S"]], operation="forward",
                    attributes_to_sync=["id", "value"], response=True,
                ),
                d.mgr.synchronize(
                    from_d, destinations=[d.dests["S"]], operation="forward",
                    attributes_to_sync=["id", "label"], response=True,
                ),
            ]  # fmt: skip
            answers = [await f for f in futures]
            assert [(a.value, a.label) for a in answers] == [(11, "new")] * 2
            await settle(net)
            [relayed] = [a for a in m.arrivals() if a.operation == "forward"]
            assert relayed.request
            assert {k: relayed.msg[k] for k in ("id", "value", "label")} == {
                "id": 1, "value": 11, "label": "new"
            }  # fmt: skip
            assert s.count() == Counter(
                {("sync", "M"): 2, ("forward", "C"): 1, ("forward", "D"): 1}
            )
            for leaf in (c, d):
                syncs = [a for a in leaf.arrivals() if a.msg["id"] == 1]
                assert [(a.operation, a.response) for a in syncs] == [
                    ("sync", False), ("sync", True),
                ]  # fmt: skip
        finally:
            await net.aclose()

    run(scenario())


def test_update_vetoed_by_a_relay_leaves_its_copy_and_goes_no_further(pki) -> None:
    # S's application refuses an update in incoming_sync, after the message was
    # received into S's stored copy: the copy is put back as it was, nothing is
    # flooded on, and the owner hears about the refusal.
    async def scenario() -> None:
        net = await build(pki, NAMES, HUB)
        try:
            m, s, c, d = (net[n] for n in "MSCD")
            m.publish(item(1, 10, "fine"))
            await settle(net)
            kept = s.reg.items[1]
            s.reg.veto = "vetoed"
            mine = m.reg.items[1]
            mine.value, mine.label = 99, "vetoed"
            m.mgr.synchronize(mine)
            await settle(net)
            assert s.reg.items[1] is kept
            assert (kept.value, kept.label) == (10, "fine")
            assert c.count() == d.count() == Counter({("sync", "S"): 1})
            assert m.count("SyncUnauthorized") == Counter({("error", "S"): 1})
        finally:
            await net.aclose()

    run(scenario())


def test_error_for_two_coalesced_requesters_reaches_both(pki) -> None:
    # As above, but the owner refuses the merged forward: S relays the one error to
    # both requesters, each with its own _resp_for.
    async def scenario() -> None:
        net = await build(pki, NAMES, HUB, {"S>M": {"bw_per_sec": 2000}})
        try:
            m, s, c, d = (net[n] for n in "MSCD")
            m.publish(item(1, 10, "old"))
            await settle(net)
            s.publish(item(2, 0, "x" * 1000))  # fills S's budget toward M
            futures = []
            for node, attrs in ((c, {"value": 11}), (d, {"label": "refused"})):
                proposal = item(1, **attrs)
                proposal.sync_owner = node.owner_of(m)
                futures.append(
                    node.mgr.synchronize(
                        proposal, destinations=[node.dests["S"]], operation="forward",
                        attributes_to_sync=["id", *attrs], response=True,
                    )
                )  # fmt: skip
            for future in futures:
                with pytest.raises(SyncUnauthorized, match="refuses label"):
                    await future
            await settle(net)
            # (M also got S's own large item.)
            assert m.count() == Counter({("forward", "S"): 1, ("sync", "S"): 1})
            assert s.count("SyncUnauthorized") == Counter({("error", "M"): 1})
            for leaf in (c, d):
                [error] = leaf.arrivals("SyncUnauthorized")
                assert error.response
            assert all(
                (n.reg.items[1].value, n.reg.items[1].label) == (10, "old")
                for n in net.nodes.values()
            )
        finally:
            await net.aclose()

    run(scenario())


def test_relay_refused_by_the_gateway_policy_resolves_none(pki) -> None:
    # S's send policy keeps the proposal from M: nothing is queued or awaited for the
    # request, so C hears "no response" at once.
    async def scenario() -> None:
        net = await build(pki, NAMES, HUB)
        try:
            m, s, c = net["M"], net["S"], net["C"]
            m.publish(item(1, 10))
            await settle(net)
            s.dests["M"].refuse_labels.add("nope")
            proposal = item(1, 11, "nope")
            proposal.sync_owner = c.owner_of(m)
            future = c.mgr.synchronize(
                proposal, destinations=[c.dests["S"]], operation="forward",
                response=True,
            )  # fmt: skip
            assert await future is None
            await settle(net)
            assert m.count() == Counter()
            assert s.count() == Counter({("sync", "M"): 1, ("forward", "C"): 1})
            assert m.reg.items[1].value == 10
        finally:
            await net.aclose()

    run(scenario())
