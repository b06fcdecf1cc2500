"""Requests crossing two gateways: four nodes in a line C -- S -- D -- M (§4.2 chaining).

The request travels C → S → D → M, each hop a new RESPONSE_NEEDED frame; the owner's
answer travels back M → D → S → C, each hop answering the previous one's request.
"""

from __future__ import annotations

from collections import Counter

import pytest
from flood_helpers import Item, build, item, run, settle

NAMES = {"M": "a", "S": "b", "C": "c", "D": "d"}
LINE = [("S", "C"), ("D", "S"), ("M", "D")]
PATH = [("S", "C", "D"), ("D", "S", "M")]  # (relay, from, toward the owner)


@pytest.mark.parametrize("operation", ["forward", "create", "delete"])
def test_request_two_gateways_away(pki, operation) -> None:
    async def scenario() -> None:
        net = await build(pki, NAMES, LINE)
        try:
            m, c = net["M"], net["C"]
            m.publish(item(1, 10))
            await settle(net)
            if operation == "create":
                request, answer_op = Item(), "sync"
                request.value, request.label = 7, "made"
            elif operation == "forward":
                request, answer_op = item(1, 11), "sync"
            else:
                request, answer_op = item(1), "delete"
            request.sync_owner = c.owner_of(m)
            keys = {"forward": ["id", "value"], "create": None, "delete": ["id"]}
            answer = await c.mgr.synchronize(
                request, destinations=[c.dests["S"]], operation=operation,
                attributes_to_sync=keys[operation], response=True,
            )  # fmt: skip
            assert isinstance(answer, Item)
            await settle(net)
            # Each relay: the request from one side, the answer from the other.
            for relay, requester, upstream in PATH:
                arrivals = [a for a in net[relay].arrivals() if a.sender == requester]
                assert [(a.operation, a.request) for a in arrivals] == [
                    (operation, True)
                ]
                back = [a for a in net[relay].arrivals() if a.sender == upstream][1:]
                assert [(a.operation, a.response) for a in back] == [(answer_op, True)]
            assert m.count() == Counter({(operation, "D"): 1})
            assert [(a.operation, a.response) for a in c.arrivals()][1:] == [
                (answer_op, True)
            ]
            if operation == "create":
                assert all(1000 in n.reg.items for n in net.nodes.values())
                assert answer.id == 1000
            elif operation == "forward":
                assert all(n.reg.items[1].value == 11 for n in net.nodes.values())
            else:
                assert all(1 not in n.reg.items for n in net.nodes.values())
        finally:
            await net.aclose()

    run(scenario())
