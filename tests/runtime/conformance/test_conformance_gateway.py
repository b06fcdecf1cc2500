"""§4.3 through our gateway, with a foreign peer as the owner.

C (our SyncManager) proposes changes to a row owned by F (the foreign peer) through S
(our SyncServer).  F sees S's relayed ``forward`` as a request numbered by its own
in-counter and answers it with a ``sync``, an ``error`` or a ``_no_resp_for``; S turns
each into the answer of C's request.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from conformance_helpers import (
    PortDestination,
    TableInherits,
    our_manager,
    our_server,
    run,
    wait_until,
)
from raw_peer import RawPeer

from entanglement.interface import SyncBadOwner
from entanglement.network import SyncDestination

F_OWNER = "0f0e0d0c-0b0a-4908-8706-050403020100"
ROW_ID = "7d1c0f4e-3f55-4a43-9a6b-1c2d3e4f5a6b"
ROW = {
    "id": ROW_ID, "type": "inherits", "info": "blah", "info2": None, "sync_serial": 17,
    "_sync_owner": F_OWNER, "_sync_type": "TableInherits",
}  # fmt: skip


def test_foreign_owner_behind_our_gateway(pki) -> None:
    async def scenario() -> None:
        a, b, d = pki.nodes["a"], pki.nodes["b"], pki.nodes["d"]
        gw, gw_reg, port = await our_server(a, d)
        cli, cli_reg = our_manager(b)
        async with gw, cli:
            gw.add_destination(SyncDestination(b.hash, "C"))
            to_gw = PortDestination(a.hash, "S", port)
            connecting = cli.add_destination(to_gw)
            assert connecting is not None
            await connecting
            peer = await RawPeer.connect(port, d.cert, d.key, d.cafile)
            await wait_until(lambda: len(gw.connections) == 2)
            peer.send({"_sync_owner": F_OWNER, "_sync_type": "SyncOwner"})
            peer.send(ROW)
            rows = cli_reg.store(TableInherits)
            await wait_until(lambda: uuid.UUID(ROW_ID) in rows)
            replica = rows[uuid.UUID(ROW_ID)]

            def propose(info2: str) -> Any:
                proposal = TableInherits()
                proposal.id, proposal.info2 = replica.id, info2
                proposal.sync_owner = replica.sync_owner
                return cli.synchronize(
                    proposal, destinations=[to_gw], operation="forward",
                    attributes_to_sync=["id", "info2"], response=True,
                )  # fmt: skip

            # Answered with the new state.
            future = propose("new")
            [relayed] = await peer.receive_requests(1)
            assert relayed.msg == {
                "id": ROW_ID, "info2": "new", "_sync_owner": F_OWNER,
                "_sync_type": "TableInherits", "_sync_operation": "forward",
            }  # fmt: skip
            peer.send({**ROW, "info2": "new", "_resp_for": [relayed.number]})
            answer = await future
            assert answer is replica
            assert replica.info2 == "new"
            assert gw_reg.store(TableInherits)[replica.id].info2 == "new"

            # Answered with an error.
            future = propose("bad")
            [relayed] = await peer.receive_requests(1)
            peer.send({
                "args": ["not yours to change"], "network_msg": relayed.msg,
                "context": None, "cause": None, "_sync_is_error": True,
                "_sync_type": "SyncBadOwner", "_sync_operation": "error",
                "_resp_for": [relayed.number],
            })  # fmt: skip
            with pytest.raises(SyncBadOwner, match="not yours to change") as raised:
                await future
            assert raised.value.network_msg["info2"] == "bad"
            assert replica.info2 == "new"

            # Answered with "no response".
            future = propose("ignored")
            [relayed] = await peer.receive_requests(1)
            peer.send({"_no_resp_for": [relayed.number]})
            assert await future is None
            assert replica.info2 == "new"
            await peer.close()

    run(scenario())
