"""Floods around a cycle stop (§0, §10.3, §10.5): a triangle M, S, C.

Each node learns M's owner from M itself; the copies relayed around the triangle are
refused by the ownership checks (sync) or die because the object is already gone
(delete: ``SyncNotFound``), so every flood ends after a bounded number of frames.
Before the in-memory ``incoming_delete`` refused unknown objects, the delete circled
around the triangle forever.
"""

from __future__ import annotations

import pytest
from flood_helpers import build, item, run, settle

from entanglement.interface import SyncNotFound

NAMES = {"M": "a", "S": "b", "C": "c"}
TRIANGLE = [("M", "S"), ("C", "S"), ("C", "M")]


def test_sync_and_delete_floods_end_in_a_triangle(pki) -> None:
    async def scenario() -> None:
        net = await build(pki, NAMES, TRIANGLE)
        try:
            m, s, c = net["M"], net["S"], net["C"]
            await net.announce("M")
            assert s.owner_of(m).dest_hash == m.hash
            assert c.owner_of(m).dest_hash == m.hash
            m.publish(item(1, 10))
            await settle(net)
            assert s.reg.items[1].value == c.reg.items[1].value == 10
            mine = m.reg.items[1]
            m.reg.remove_from_store(mine)
            m.mgr.synchronize(mine, operation="delete", attributes_to_sync=["id"])
            await settle(net)
            assert 1 not in s.reg.items
            assert 1 not in c.reg.items
            total = sum(len(n.arrivals()) for n in net.nodes.values())
            assert total < 20, [
                (n.name, a.sender, a.operation) for n in net.nodes.values()
                for a in n.arrivals()
            ]  # fmt: skip
        finally:
            await net.aclose()

    run(scenario(), timeout=10)


def test_delete_of_an_object_the_owner_no_longer_has(pki) -> None:
    async def scenario() -> None:
        net = await build(pki, NAMES, [("C", "M")])
        try:
            m, c = net["M"], net["C"]
            m.publish(item(1, 10))
            await settle(net)
            m.reg.remove_from_store(m.reg.items[1])  # gone without telling anyone
            future = c.mgr.synchronize(
                c.reg.items[1], destinations=[c.dests["M"]], operation="delete",
                attributes_to_sync=["id"], response=True,
            )  # fmt: skip
            with pytest.raises(SyncNotFound, match="no such Item"):
                await future
            assert 1 in c.reg.items  # nobody told C the owner deleted it
        finally:
            await net.aclose()

    run(scenario())
