"""Wire conformance, our SyncManager connecting out to a foreign TLS server.

The foreign server (:class:`raw_peer.RawServer`) requires a client certificate, checks
our identity the way §1.2 describes, and then plays the owner of the objects: it answers
our ``forward`` with the new state and our ``delete`` with an error, and asks us
something we answer with a metadata-only ``_no_resp_for`` frame.
"""

from __future__ import annotations

import json
import uuid

import pytest
from conformance_helpers import PortDestination, Record, our_manager, run, wait_until
from raw_peer import RawServer, hash_text_of_pem

from entanglement.interface import SyncNotFound

F_OWNER = "0f0e0d0c-0b0a-4908-8706-050403020100"
F_OWNER_MSG = {"_sync_owner": F_OWNER, "_sync_type": "SyncOwner"}
REC_ID = "c0ffee00-0000-4000-8000-000000000001"


def default_style(payload: bytes) -> bool:
    return payload == json.dumps(json.loads(payload)).encode("ascii")


def test_our_manager_against_a_foreign_server(pki) -> None:
    async def scenario() -> None:
        a, d = pki.nodes["a"], pki.nodes["d"]
        foreign = RawServer(d.cert, d.key, d.cafile)
        port = await foreign.start()
        mgr, reg = our_manager(a)
        try:
            async with mgr:
                dest = PortDestination(d.hash, "F", port)
                connecting = mgr.add_destination(dest)
                assert connecting is not None
                await connecting
                peer = await foreign.peers.get()
                assert peer.peer_hash_text == hash_text_of_pem(a.cert)
                await wait_until(lambda: mgr.connections)

                # The foreign owner announces itself and one record.
                peer.send(F_OWNER_MSG)
                peer.send({
                    "id": REC_ID, "text": "hello", "when": None,
                    "_sync_owner": F_OWNER, "_sync_type": "Record",
                })  # fmt: skip
                records = reg.store(Record)
                await wait_until(lambda: uuid.UUID(REC_ID) in records)
                replica = records[uuid.UUID(REC_ID)]
                assert (replica.text, replica.when) == ("hello", None)

                # Our forward: RESPONSE_NEEDED, numbered 0 (our first frame).
                proposal = Record()
                proposal.id, proposal.text = replica.id, "changed"
                proposal.sync_owner = replica.sync_owner
                future = mgr.synchronize(
                    proposal, destinations=[dest], operation="forward",
                    attributes_to_sync=["id", "text"], response=True,
                )  # fmt: skip
                [request] = await peer.receive_requests(1)
                assert request.number == 0
                assert request.msg == {
                    "id": REC_ID, "text": "changed", "_sync_owner": F_OWNER,
                    "_sync_type": "Record", "_sync_operation": "forward",
                }  # fmt: skip
                assert default_style(request.payload)
                peer.send({
                    "id": REC_ID, "text": "changed", "when": None,
                    "_sync_owner": F_OWNER, "_sync_type": "Record",
                    "_resp_for": [request.number],
                })  # fmt: skip
                result = await future
                assert result is records[replica.id]
                assert result.text == "changed"

                # Our delete request, refused by the owner with an error object.
                future = mgr.synchronize(
                    result, destinations=[dest], operation="delete",
                    attributes_to_sync=["id"], response=True,
                )  # fmt: skip
                [request] = await peer.receive_requests(1)
                assert request.number == 1
                assert request.msg == {
                    "id": REC_ID, "_sync_owner": F_OWNER, "_sync_type": "Record",
                    "_sync_operation": "delete",
                }  # fmt: skip
                peer.send({
                    "args": ["no such record"], "network_msg": request.msg,
                    "context": None, "cause": None, "_sync_is_error": True,
                    "_sync_type": "SyncNotFound", "_sync_operation": "error",
                    "_resp_for": [request.number],
                })  # fmt: skip
                with pytest.raises(SyncNotFound, match="no such record") as raised:
                    await future
                assert raised.value.network_msg == request.msg
                assert replica.id in records

                # A request we have nothing to answer with: a metadata-only frame.
                n = peer.request(F_OWNER_MSG)
                frame = await peer.receive()
                assert frame.number == 2
                assert (frame.flags, frame.payload) == (
                    0, json.dumps({"_no_resp_for": [n]}).encode(),
                )  # fmt: skip

                # What we own goes out as plain syncs (no _sync_operation, flags 0).
                mine = Record()
                mine.id, mine.text = uuid.uuid4(), "ours"
                reg.store_synchronize(mine)
                frames = await peer.receive_until(lambda f: f.sync_type == "Record")
                owner_id = str(reg.local_owner.id)
                assert [(f.flags, f.msg) for f in frames] == [
                    (0, {"_sync_owner": owner_id, "_sync_type": "SyncOwner"}),
                    (0, {"id": str(mine.id), "text": "ours", "_sync_owner": owner_id,
                         "_sync_type": "Record"}),
                ]  # fmt: skip
                await peer.close()
        finally:
            await foreign.close()

    run(scenario())


def test_requests_queued_together_coalesce_into_one_frame(pki) -> None:
    # §7.3: two forwards of one object queued before the writer runs become one frame
    # (union of the attributes, contexts merged): one answer resolves both futures.
    # A delete queued after a forward replaces it.
    async def scenario() -> None:
        a, d = pki.nodes["a"], pki.nodes["d"]
        foreign = RawServer(d.cert, d.key, d.cafile)
        port = await foreign.start()
        mgr, reg = our_manager(a)
        try:
            async with mgr:
                dest = PortDestination(d.hash, "F", port)
                connecting = mgr.add_destination(dest)
                assert connecting is not None
                await connecting
                peer = await foreign.peers.get()
                peer.send(F_OWNER_MSG)
                peer.send({"id": REC_ID, "text": "t0", "ratio": 0.5,
                           "_sync_owner": F_OWNER, "_sync_type": "Record"})  # fmt: skip
                records = reg.store(Record)
                await wait_until(lambda: uuid.UUID(REC_ID) in records)
                replica = records[uuid.UUID(REC_ID)]

                def proposal(**attrs: object) -> Record:
                    obj = Record()
                    obj.id, obj.sync_owner = replica.id, replica.sync_owner
                    for name, value in attrs.items():
                        setattr(obj, name, value)
                    return obj

                futures = [
                    mgr.synchronize(
                        proposal(text="t1"), destinations=[dest], operation="forward",
                        attributes_to_sync=["id", "text"], response=True,
                    ),
                    mgr.synchronize(
                        proposal(ratio=1.5), destinations=[dest], operation="forward",
                        attributes_to_sync=["id", "ratio"], response=True,
                    ),
                ]  # fmt: skip
                [request] = await peer.receive_requests(1)
                assert request.msg == {
                    "id": REC_ID, "text": "t1", "ratio": 1.5, "_sync_owner": F_OWNER,
                    "_sync_type": "Record", "_sync_operation": "forward",
                }  # fmt: skip
                peer.send({"id": REC_ID, "text": "t1", "ratio": 1.5,
                           "_sync_owner": F_OWNER, "_sync_type": "Record",
                           "_resp_for": [request.number]})  # fmt: skip
                first, second = [await f for f in futures]
                assert first is second is replica
                assert (replica.text, replica.ratio) == ("t1", 1.5)

                futures = [
                    mgr.synchronize(
                        proposal(text="t2"), destinations=[dest], operation="forward",
                        attributes_to_sync=["id", "text"], response=True,
                    ),
                    mgr.synchronize(
                        proposal(), destinations=[dest], operation="delete",
                        attributes_to_sync=["id"], response=True,
                    ),
                ]  # fmt: skip
                [request] = await peer.receive_requests(1)
                assert request.msg["_sync_operation"] == "delete"
                assert request.msg["id"] == REC_ID
                peer.send({"id": REC_ID, "_sync_owner": F_OWNER, "_sync_type": "Record",
                           "_sync_operation": "delete",
                           "_resp_for": [request.number]})  # fmt: skip
                results = [await f for f in futures]
                assert all(
                    isinstance(r, Record) and r.id == replica.id for r in results
                )
                assert replica.id not in records
                await peer.close()
        finally:
            await foreign.close()

    run(scenario())
