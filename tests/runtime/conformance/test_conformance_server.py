"""Wire conformance, foreign peer as TLS client of a real SyncServer.

The foreign peer (:mod:`raw_peer`) is written from PROTOCOL.md with ``ssl``, asyncio
streams, ``struct`` and ``json`` only.  Each test checks both what our server accepts
and the exact frames it writes: header flags, implicit numbering in ``_resp_for`` /
``_no_resp_for``, the omitted ``_sync_operation`` of ``sync``, metadata-only frames,
``json.dumps`` default style, the error object shape and the value encodings.
"""

from __future__ import annotations

import base64
import datetime
import json
import uuid

import pytest
from conformance_helpers import Record, TableInherits, our_server, run, wait_until
from raw_peer import RESPONSE_NEEDED, RawPeer, answers, hash_text_of_pem

from entanglement.interface import SyncBadOwner

F_OWNER = "0f0e0d0c-0b0a-4908-8706-050403020100"
ROW_ID = "7d1c0f4e-3f55-4a43-9a6b-1c2d3e4f5a6b"
F_OWNER_MSG = {"_sync_owner": F_OWNER, "_sync_type": "SyncOwner"}
# §3.2, plain sync of a row (operation defaulted).
EXAMPLE_SYNC = {
    "id": ROW_ID, "type": "inherits", "info": "blah", "info2": None, "sync_serial": 17,
    "_sync_owner": F_OWNER, "_sync_type": "TableInherits",
}  # fmt: skip
ERROR_KEYS = [
    "args", "network_msg", "context", "cause", "_sync_is_error", "_sync_type",
    "_sync_operation",
]  # fmt: skip


def default_style(payload: bytes) -> bool:
    """True when ``payload`` is exactly what ``json.dumps`` (defaults) would write."""
    return payload == json.dumps(json.loads(payload)).encode("ascii")


async def connect(pki):
    a, d = pki.nodes["a"], pki.nodes["d"]
    srv, reg, port = await our_server(a, d)
    peer = await RawPeer.connect(port, d.cert, d.key, d.cafile)
    await wait_until(lambda: srv.connections)
    return srv, reg, peer


def local_row(info2: str = "old") -> TableInherits:
    row = TableInherits()
    row.id, row.type, row.info, row.info2, row.sync_serial = (
        uuid.uuid4(),
        "t",
        "i",
        info2,
        1,
    )
    return row


def test_identities_are_sha256_of_the_der_certificates(pki) -> None:
    async def scenario() -> None:
        srv, _, peer = await connect(pki)
        async with srv:
            assert peer.peer_hash_text == hash_text_of_pem(pki.nodes["a"].cert)
            assert peer.peer_hash_text == str(srv.cert_hash)
            assert len(peer.peer_hash_text) == 58
            [conn] = srv.connections
            assert str(conn.dest_hash) == hash_text_of_pem(pki.nodes["d"].cert)
            await peer.close()

    run(scenario())


def test_spec_example_frames_are_accepted(pki) -> None:
    async def scenario() -> None:
        srv, reg, peer = await connect(pki)
        async with srv:
            # The §3.2 sync example, after announcing its owner.
            peer.send(F_OWNER_MSG)
            peer.send(EXAMPLE_SYNC)
            assert [f.msg for f in await peer.barrier()] == []
            row = reg.store(TableInherits)[uuid.UUID(ROW_ID)]
            assert (row.type, row.info, row.info2, row.sync_serial) == (
                "inherits", "blah", None, 17,
            )  # fmt: skip
            assert row.sync_owner.id == uuid.UUID(F_OWNER)
            assert row.sync_owner.dest_hash == pki.nodes["d"].hash

            # The forward example (flags 1), toward an object the server owns.
            mine = local_row()
            reg.store_synchronize(mine)
            owner_id = str(reg.local_owner.id)
            frames = await peer.receive_until(lambda f: f.sync_type == "TableInherits")
            assert [f.payload for f in frames] == [
                json.dumps({"_sync_owner": owner_id, "_sync_type": "SyncOwner"}).encode(),
                json.dumps({
                    "id": str(mine.id), "type": "t", "info": "i", "info2": "old",
                    "sync_serial": 1, "_sync_owner": owner_id,
                    "_sync_type": "TableInherits",
                }).encode(),
            ]  # fmt: skip
            assert [f.flags for f in frames] == [0, 0]
            n = peer.request({
                "id": str(mine.id), "info2": "new", "_sync_owner": owner_id,
                "_sync_type": "TableInherits", "_sync_operation": "forward",
            })  # fmt: skip
            [answer] = await peer.receive_until(lambda f: n in answers(f))
            assert answer.flags == 0
            assert answer.msg == {
                "id": str(mine.id), "type": "t", "info": "i", "info2": "new",
                "sync_serial": 1, "_sync_owner": owner_id,
                "_sync_type": "TableInherits", "_resp_for": [n],
            }  # fmt: skip
            assert default_style(answer.payload)
            assert mine.info2 == "new"

            # The error example, answering a request of the server.
            [dest] = srv.destinations
            future = srv.synchronize(mine, destinations=[dest], response=True)
            [request] = await peer.receive_requests(1)
            assert request.flags == RESPONSE_NEEDED
            assert "_resp_for" not in request.msg
            peer.send({
                "args": ["<text>"], "network_msg": {"...": "offending message"},
                "context": None, "cause": None, "_sync_is_error": True,
                "_sync_type": "SyncBadOwner", "_sync_operation": "error",
                "_resp_for": [request.number],
            })  # fmt: skip
            with pytest.raises(SyncBadOwner) as raised:
                await future
            assert raised.value.args == ("<text>",)
            assert raised.value.network_msg == {"...": "offending message"}

            # The metadata-only example answers two requests at once.
            other = local_row()
            reg.store_synchronize(other)
            await peer.receive_until(lambda f: f.sync_type == "TableInherits")
            first = srv.synchronize(mine, destinations=[dest], response=True)
            second = srv.synchronize(other, destinations=[dest], response=True)
            numbers = [f.number for f in await peer.receive_requests(2)]
            peer.send({"_no_resp_for": numbers})
            assert await first is None
            assert await second is None
            await peer.close()

    run(scenario())


def test_numbering_counts_every_frame_both_ways(pki) -> None:
    async def scenario() -> None:
        srv, reg, peer = await connect(pki)
        async with srv:
            # Metadata-only and undecodable frames consume numbers too (§2.3).
            assert peer.send({"_no_resp_for": []}) == 0
            assert peer.send_payload(b"{not json") == 1
            assert peer.send_payload(b"[1, 2]") == 2
            assert peer.send(F_OWNER_MSG) == 3
            errors = await peer.barrier()  # request #4
            assert [f.msg["_sync_type"] for f in errors] == ["SyncBadEncodingError"] * 2
            assert all("_resp_for" not in f.msg for f in errors)  # unsolicited
            assert [f.flags for f in errors] == [0, 0]
            [answer_to_4] = peer.frames[-1:]
            assert answer_to_4.msg["_resp_for"] == [4]
            assert answer_to_4.msg["_sync_type"] == "UnregisteredSyncClass"

            # A request whose handling sends nothing back: one metadata-only frame.
            n = peer.request(EXAMPLE_SYNC)
            assert n == 5
            frame = await peer.receive()
            assert (frame.flags, frame.payload) == (0, b'{"_no_resp_for": [5]}')

            # The server's requests carry the numbers our in-counter gives them.
            assert peer.in_count == 4  # 2 errors, the answer to #4, the metadata frame
            [dest] = srv.destinations
            mine, other = local_row(), local_row()
            reg.store_synchronize(mine)
            reg.store_synchronize(other)
            await peer.receive_until(lambda f: f.msg.get("id") == str(other.id))
            first = srv.synchronize(mine, destinations=[dest], response=True)
            second = srv.synchronize(other, destinations=[dest], response=True)
            k1, k2 = (f.number for f in await peer.receive_requests(2))
            assert (k1, k2) == (peer.in_count - 2, peer.in_count - 1)
            # One frame answers both, with an object the foreign peer owns.
            peer.send({**EXAMPLE_SYNC, "info": "answer", "_resp_for": [k1, k2]})
            assert (await first).info == "answer"
            assert await second is (await first)
            assert reg.store(TableInherits)[uuid.UUID(ROW_ID)].info == "answer"
            await peer.close()

    run(scenario())


def test_error_object_shape(pki) -> None:
    async def scenario() -> None:
        srv, _, peer = await connect(pki)
        async with srv:
            peer.send(F_OWNER_MSG)
            peer.send(EXAMPLE_SYNC)
            # A forward coming from the owner's direction is refused (§10.4).
            bad = {
                "id": ROW_ID, "info": "x", "_sync_owner": F_OWNER,
                "_sync_type": "TableInherits", "_sync_operation": "forward",
            }  # fmt: skip
            n = peer.request(bad)
            [error] = await peer.receive_until(lambda f: n in answers(f))
            assert error.flags == 0
            assert list(error.msg) == [*ERROR_KEYS, "_resp_for"]
            assert error.msg["_sync_type"] == "SyncBadOwner"
            assert error.msg["_sync_operation"] == "error"
            assert error.msg["_sync_is_error"] is True
            assert error.msg["_resp_for"] == [n]
            [text] = error.msg["args"]
            assert "forward" in text
            assert error.msg["network_msg"] == bad
            assert error.msg["context"] is None
            assert error.msg["cause"] is None
            assert default_style(error.payload)

            # The same message without RESPONSE_NEEDED: the error is unsolicited.
            peer.send(bad)
            [error] = await peer.receive_until(lambda f: True)
            assert error.flags == 0
            assert list(error.msg) == ERROR_KEYS
            assert error.msg["network_msg"] == bad
            await peer.close()

    run(scenario())


def test_our_json_is_json_dumps_default_style(pki) -> None:
    async def scenario() -> None:
        srv, reg, peer = await connect(pki)
        async with srv:
            record = Record()
            record.id, record.text = uuid.uuid4(), 'é ☃ 𝄞 "q" \\ \n'
            reg.store_synchronize(record)
            [owner, frame] = await peer.receive_until(lambda f: f.sync_type == "Record")
            for f in (owner, frame):
                assert f.payload.isascii()
                assert default_style(f.payload)
            assert (
                b'"text": "\\u00e9 \\u2603 \\ud834\\udd1e \\"q\\" \\\\ \\n"'
                in frame.payload
            )
            assert b'", "' in frame.payload
            assert frame.msg["text"] == record.text
            await peer.close()

    run(scenario())


def test_value_encodings_both_ways(pki) -> None:
    async def scenario() -> None:
        a, d = pki.nodes["a"], pki.nodes["d"]
        srv, reg, peer = await connect(pki)
        async with srv:
            plus2 = datetime.timezone(datetime.timedelta(hours=2))
            sent = Record()
            sent.id = uuid.UUID("A1B2C3D4-0000-4000-8000-00000000ABCD")
            sent.when = datetime.datetime(2024, 1, 2, 5, 4, 5, 123456, tzinfo=plus2)
            sent.blob = b"\xfb\xff\xfe\x00"
            sent.peer = d.hash
            naive = Record()
            naive.id = uuid.uuid4()
            naive.when = datetime.datetime(2024, 1, 2, 3, 4, 5)
            reg.store_synchronize(sent)
            reg.store_synchronize(naive)
            frames = await peer.receive_until(
                lambda f: f.msg.get("id") == str(naive.id)
            )
            [got, got_naive] = [f.msg for f in frames if f.sync_type == "Record"]
            assert got["id"] == "a1b2c3d4-0000-4000-8000-00000000abcd"
            assert got["when"] == "2024-01-02T03:04:05.123456+00:00"
            assert got["blob"] == "+//+AA==" == base64.b64encode(sent.blob).decode()
            assert got["peer"] == hash_text_of_pem(d.cert)
            assert "text" not in got  # never set: omitted
            assert got_naive["when"] == "2024-01-02T03:04:05"

            # The other way, including raw UTF-8 and compact separators.
            peer.send(F_OWNER_MSG)
            incoming = {
                "id": "B1B2C3D4-0000-4000-8000-00000000ABCD", "when": "2024-06-01T12:00:00",
                "blob": "+//+AA==", "peer": hash_text_of_pem(a.cert), "text": "é",
                "_sync_owner": F_OWNER, "_sync_type": "Record",
            }  # fmt: skip
            payload = json.dumps(incoming, ensure_ascii=False, separators=(",", ":"))
            peer.send_payload(payload.encode("utf-8"))
            assert [f.msg for f in await peer.barrier()] == []
            stored = reg.store(Record)[uuid.UUID(incoming["id"])]
            utc = datetime.UTC
            assert stored.when == datetime.datetime(2024, 6, 1, 12, tzinfo=utc)
            assert stored.when.tzinfo is not None
            assert stored.blob == b"\xfb\xff\xfe\x00"
            assert stored.peer == a.hash
            assert stored.text == "é"
            await peer.close()

    run(scenario())
