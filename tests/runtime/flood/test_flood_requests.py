"""``create`` and ``forward`` flood rules (§10.4, §10.6) over real TLS, exact counts.

Topology: the owner M and two leaves C and D, all connected to the gateway S::

    M -- S -- C
         |
         D

or, for ``forward`` reaching the owner directly, C and D connected to M.
"""

from __future__ import annotations

from collections import Counter

import pytest
from flood_helpers import Item, build, item, run, settle

from entanglement.interface import SyncNotConnected, SyncUnauthorized

NAMES = {"M": "a", "S": "b", "C": "c", "D": "d"}
HUB = [("M", "S"), ("C", "S"), ("D", "S")]


def test_create_through_a_gateway_answers_with_owner_assigned_keys(pki) -> None:
    async def scenario() -> None:
        net = await build(pki, NAMES, HUB)
        try:
            m, s, c, d = (net[n] for n in "MSCD")
            await net.announce("M")
            request = Item()
            request.value, request.label = 5, "new"
            request.sync_owner = c.owner_of(m)
            created = await c.mgr.synchronize(
                request, destinations=[c.dests["S"]], operation="create", response=True
            )
            assert isinstance(created, Item)
            assert (created.id, created.value, created.label) == (1000, 5, "new")
            assert created is c.reg.items[1000]
            assert created.sync_owner is c.owner_of(m)
            await settle(net)
            assert m.reg.items[1000].sync_owner is m.reg.local_owner
            assert s.count() == Counter({("create", "C"): 1, ("sync", "M"): 1})
            assert m.count() == Counter({("create", "S"): 1})
            assert c.count() == Counter({("sync", "S"): 1})
            assert d.count() == Counter({("sync", "S"): 1})
            [relayed] = m.arrivals()
            assert relayed.request
            assert "id" not in relayed.msg
            assert set(relayed.msg) == {
                "value", "label", "_sync_owner", "_sync_type", "_sync_operation"
            }  # fmt: skip
            [answer] = c.arrivals()
            assert answer.response
            assert answer.msg["id"] == 1000
            [at_d] = d.arrivals()
            assert not at_d.request
            assert not at_d.response
            assert 1000 in s.reg.items
            assert 1000 in d.reg.items
        finally:
            await net.aclose()

    run(scenario())


def test_forward_reaching_the_owner_directly(pki) -> None:
    async def scenario() -> None:
        net = await build(pki, NAMES, [("C", "M"), ("D", "M")])
        try:
            m, c, d = net["M"], net["C"], net["D"]
            m.publish(item(1, 10, "keep"))
            await settle(net)
            proposal = item(1, 11)
            proposal.sync_owner = c.owner_of(m)
            answer = await c.mgr.synchronize(
                proposal, destinations=[c.dests["M"]], operation="forward",
                attributes_to_sync=["id", "value"], response=True,
            )  # fmt: skip
            assert answer is c.reg.items[1]
            assert (answer.value, answer.label) == (11, "keep")
            await settle(net)
            assert (m.reg.items[1].value, m.reg.items[1].label) == (11, "keep")
            assert m.count() == Counter({("forward", "C"): 1})
            assert c.count() == Counter({("sync", "M"): 2})
            assert d.count() == Counter({("sync", "M"): 2})
            assert [a.response for a in c.arrivals()] == [False, True]
            assert [a.response or a.request for a in d.arrivals()] == [False, False]
            assert d.reg.items[1].value == 11
        finally:
            await net.aclose()

    run(scenario())


def test_forward_through_a_gateway_leaves_the_relay_copy_alone(pki) -> None:
    async def scenario() -> None:
        net = await build(pki, NAMES, HUB)
        try:
            m, s, c, d = (net[n] for n in "MSCD")
            m.publish(item(1, 10, "keep"))
            await settle(net)
            proposal = item(1, 11)
            proposal.sync_owner = c.owner_of(m)
            answer = await c.mgr.synchronize(
                proposal, destinations=[c.dests["S"]], operation="forward",
                attributes_to_sync=["id", "value"], response=True,
            )  # fmt: skip
            assert (answer.value, answer.label) == (11, "keep")
            await settle(net)
            # When S relayed the proposal its own copy still had the owner's value.
            assert s.reg.stored_when_relayed == [10]
            assert [op for op, _, _ in s.reg.accepted] == ["sync", "forward", "sync"]
            assert s.count() == Counter({("forward", "C"): 1, ("sync", "M"): 2})
            assert m.count() == Counter({("forward", "S"): 1})
            assert c.count() == Counter({("sync", "S"): 2})
            assert d.count() == Counter({("sync", "S"): 2})
            [relayed] = m.arrivals()
            assert relayed.request
            assert set(relayed.msg) - {"_sync_type", "_sync_operation"} == {
                "id", "value", "_sync_owner"
            }  # fmt: skip
            assert [a.response for a in c.arrivals()] == [False, True]
            assert all(n.reg.items[1].value == 11 for n in net.nodes.values())
        finally:
            await net.aclose()

    run(scenario())


def test_refused_forward_changes_nothing_anywhere(pki) -> None:
    async def scenario() -> None:
        net = await build(pki, NAMES, HUB)
        try:
            m, s, c, d = (net[n] for n in "MSCD")
            m.publish(item(1, 10, "keep"))
            await settle(net)
            proposal = item(1, 99, "refused")
            proposal.sync_owner = c.owner_of(m)
            future = c.mgr.synchronize(
                proposal, destinations=[c.dests["S"]], operation="forward",
                response=True,
            )  # fmt: skip
            with pytest.raises(SyncUnauthorized, match="refuses label"):
                await future
            await settle(net)
            assert all(
                (n.reg.items[1].value, n.reg.items[1].label) == (10, "keep")
                for n in net.nodes.values()
            )
            assert s.count("SyncUnauthorized") == Counter({("error", "M"): 1})
            assert c.count("SyncUnauthorized") == Counter({("error", "S"): 1})
            assert (
                m.count("SyncUnauthorized") == d.count("SyncUnauthorized") == Counter()
            )
            assert d.count() == Counter({("sync", "S"): 1})
        finally:
            await net.aclose()

    run(scenario())


def test_forward_toward_an_owner_whose_next_hop_is_down(pki) -> None:
    # M's connection to S is gone: S cannot relay C's forward and answers with a
    # SyncNotConnected error object instead of leaving C's future pending.
    async def scenario() -> None:
        net = await build(pki, NAMES, HUB)
        try:
            m, s, c = net["M"], net["S"], net["C"]
            m.publish(item(1, 10))
            await settle(net)
            await m.mgr.aclose()
            proposal = item(1, 11)
            proposal.sync_owner = c.owner_of(m)
            future = c.mgr.synchronize(
                proposal, destinations=[c.dests["S"]], operation="forward",
                attributes_to_sync=["id", "value"], response=True,
            )  # fmt: skip
            with pytest.raises(SyncNotConnected, match="'M'") as raised:
                await future
            assert raised.value.network_msg["value"] == 11
            await settle(net)
            [error] = c.arrivals("SyncNotConnected")
            assert (error.sender, error.operation, error.response) == (
                "S",
                "error",
                True,
            )
            assert error.msg["_sync_is_error"] is True
            assert str(m.hash) in error.msg["dest"]
            assert s.count() == Counter({("sync", "M"): 1, ("forward", "C"): 1})
            assert s.reg.items[1].value == c.reg.items[1].value == 10
        finally:
            await net.aclose()

    run(scenario())
