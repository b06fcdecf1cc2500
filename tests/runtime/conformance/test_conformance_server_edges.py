"""Wire conformance, foreign client against a real SyncServer: the less common shapes.

Numbers as digit strings, ``_no_resp_for`` piggy-backed on an object frame, an explicit
``_sync_operation: "sync"``, NaN, the exact wire form of ``delete`` and ``create``
answers, the ``create`` loop error, and a frame too large to send (refused without
consuming a message number, quirk 1 fixed).
"""

from __future__ import annotations

import json
import math
import ssl
import uuid
from typing import Any

from conformance_helpers import Record, TableInherits, our_server, run, wait_until
from raw_peer import RawPeer, answers

F_OWNER = "0f0e0d0c-0b0a-4908-8706-050403020100"
F_OWNER_MSG = {"_sync_owner": F_OWNER, "_sync_type": "SyncOwner"}


async def connect(pki):
    a, d = pki.nodes["a"], pki.nodes["d"]
    srv, reg, port = await our_server(a, d)
    peer = await RawPeer.connect(port, d.cert, d.key, d.cafile)
    await wait_until(lambda: srv.connections)
    return srv, reg, peer


async def publish_row(reg, peer, **attrs):
    row = TableInherits()
    row.type, row.info, row.info2, row.sync_serial = "t", "i", None, 1
    for name, value in attrs.items():
        setattr(row, name, value)
    reg.store_synchronize(row)
    await peer.receive_until(lambda f: f.msg.get("id") == str(row.id))
    return row


def test_numbers_as_digit_strings_and_piggy_backed_no_response(pki) -> None:
    async def scenario() -> None:
        srv, reg, peer = await connect(pki)
        async with srv:
            row = await publish_row(reg, peer)
            other = await publish_row(reg, peer)
            [dest] = srv.destinations
            first = srv.synchronize(row, destinations=[dest], response=True)
            second = srv.synchronize(other, destinations=[dest], response=True)
            k1, k2 = (f.number for f in await peer.receive_requests(2))
            # An object frame answering k1 (as a digit string) and no-responding k2.
            peer.send(F_OWNER_MSG)
            peer.send({
                "id": str(uuid.uuid4()), "text": "answer", "_sync_owner": F_OWNER,
                "_sync_type": "Record", "_sync_operation": "sync",
                "_resp_for": [str(k1)], "_no_resp_for": [k2],
            })  # fmt: skip
            answer = await first
            assert isinstance(answer, Record)
            assert answer.text == "answer"
            assert await second is None
            assert [f.msg for f in await peer.barrier()] == []
            await peer.close()

    run(scenario())


def test_nan_is_accepted_and_sent_like_python(pki) -> None:
    async def scenario() -> None:
        srv, reg, peer = await connect(pki)
        async with srv:
            peer.send(F_OWNER_MSG)
            rid = str(uuid.uuid4())
            peer.send_payload(
                b'{"id": "%s", "ratio": NaN, "_sync_owner": "%s", "_sync_type": "Record"}'
                % (rid.encode(), F_OWNER.encode())
            )
            assert [f.msg for f in await peer.barrier()] == []
            assert math.isnan(reg.store(Record)[uuid.UUID(rid)].ratio)
            mine = Record()
            mine.id, mine.ratio = uuid.uuid4(), float("inf")
            reg.store_synchronize(mine)
            [*_, frame] = await peer.receive_until(lambda f: f.sync_type == "Record")
            assert b'"ratio": Infinity' in frame.payload
            await peer.close()

    run(scenario())


def test_delete_request_echo_is_keys_and_owner_only(pki) -> None:
    async def scenario() -> None:
        srv, reg, peer = await connect(pki)
        async with srv:
            row = await publish_row(reg, peer, info="long text that is not echoed")
            owner_id = str(reg.local_owner.id)
            n = peer.request({
                "id": str(row.id), "_sync_owner": owner_id,
                "_sync_type": "TableInherits", "_sync_operation": "delete",
            })  # fmt: skip
            [echo] = await peer.receive_until(lambda f: n in answers(f))
            assert echo.flags == 0
            assert echo.msg == {
                "id": str(row.id), "_sync_owner": owner_id,
                "_sync_type": "TableInherits", "_sync_operation": "delete",
                "_resp_for": [n],
            }  # fmt: skip
            assert row.id not in reg.store(TableInherits)
            await peer.close()

    run(scenario())


def test_create_request_answered_with_the_new_row(pki) -> None:
    async def scenario() -> None:
        srv, reg, peer = await connect(pki)
        async with srv:
            await publish_row(reg, peer)
            owner_id = str(reg.local_owner.id)
            n = peer.request({
                "type": "made", "info": "by F", "_sync_owner": owner_id,
                "_sync_type": "TableInherits", "_sync_operation": "create",
            })  # fmt: skip
            [created] = await peer.receive_until(lambda f: n in answers(f))
            assert created.flags == 0
            assert "_sync_operation" not in created.msg
            new_id = uuid.UUID(created.msg["id"])
            assert created.msg == {
                "id": str(new_id), "type": "made", "info": "by F",
                "_sync_owner": owner_id, "_sync_type": "TableInherits", "_resp_for": [n],
            }  # fmt: skip
            assert reg.store(TableInherits)[new_id].info == "by F"

            # A create coming from the owner's own direction is a loop.
            peer.send(F_OWNER_MSG)
            n = peer.request({
                "info": "loop", "_sync_owner": F_OWNER, "_sync_type": "TableInherits",
                "_sync_operation": "create",
            })  # fmt: skip
            [error] = await peer.receive_until(lambda f: n in answers(f))
            assert error.msg["_sync_type"] == "WrongSyncDestination"
            assert error.msg["_sync_operation"] == "error"
            assert "create loop" in error.msg["args"][0]
            await peer.close()

    run(scenario())


def test_a_frame_too_large_is_refused_without_using_a_number(pki, caplog) -> None:
    async def scenario() -> None:
        srv, reg, peer = await connect(pki)
        async with srv:
            await publish_row(reg, peer)
            before = peer.in_count
            [dest] = srv.destinations
            huge = Record()
            huge.id, huge.text = uuid.uuid4(), "x" * 70_000
            huge.sync_owner = reg.local_owner  # (synchronize refuses owner-less ones)
            future = srv.synchronize(huge, destinations=[dest], response=True)
            assert await future is None  # never sent: nobody can answer it
            at_limit = Record()
            at_limit.id, at_limit.sync_owner = uuid.uuid4(), reg.local_owner
            overhead = len(json.dumps({
                "id": str(at_limit.id), "text": "", "_sync_type": "Record",
                "_sync_owner": str(reg.local_owner.id),
            }))  # fmt: skip
            at_limit.text = "y" * (65536 - overhead)
            asked = srv.synchronize(at_limit, destinations=[dest], response=True)
            [request] = await peer.receive_requests(1)
            assert request.number == before  # the refused frame used no number
            assert len(request.payload) == 65536
            peer.send({"_no_resp_for": [request.number]})
            assert await asked is None
            assert "exceeds the 65536-byte limit" in caplog.text
            await peer.close()

    run(scenario())


def refusal_cases(
    row_id: str, our_owner: str
) -> list[tuple[dict[str, Any], str | None]]:
    """(message sent with RESPONSE_NEEDED, wire name of the error answering it)."""
    row = {"id": row_id, "_sync_owner": our_owner, "_sync_type": "TableInherits"}
    return [
        ({"_sync_type": "Nope"}, "UnregisteredSyncClass"),
        ({**row, "_sync_operation": "transition"}, "SyncInvalidOperation"),
        ({**row, "_sync_operation": "forward", "_bogus": 1}, "SyncBadEncodingError"),
        ({**row, "_sync_operation": "forward", "_no_resp": [1]}, "SyncBadEncodingError"),
        ({**row, "_sync_operation": "forward", "colour": "red"}, "SyncBadEncodingError"),
        ({**row, "id": str(uuid.uuid4()), "_sync_operation": "forward"}, "SyncNotFound"),
        ({**row, "id": "not-a-uuid", "_sync_operation": "forward"}, "SyncBadEncodingError"),
        (row, "SyncBadOwner"),  # a sync of an object we own
        ({**row, "_sync_owner": str(uuid.uuid4())}, "SyncBadOwner"),  # unknown owner
        ({"id": row_id, "_sync_type": "TableInherits"}, "SyncBadEncodingError"),
        ({"text": "x", "_sync_type": "Record", "_sync_operation": "delete",
          "_sync_owner": our_owner}, "SyncBadEncodingError"),  # no key to delete
        # Errors are never answered with errors, even malformed ones (§6.3).
        ({"args": ["x"], "colour": 1, "_sync_is_error": True,
          "_sync_type": "SyncError", "_sync_operation": "error"}, None),
    ]  # fmt: skip


def test_refusals_are_answered_with_the_right_error(pki) -> None:
    async def scenario() -> None:
        srv, reg, peer = await connect(pki)
        async with srv:
            row = await publish_row(reg, peer, info="unchanged")
            cases = refusal_cases(str(row.id), str(reg.local_owner.id))
            for msg, expected in cases:
                n = peer.request(msg)
                if expected is None:
                    [answer] = await peer.receive_until(lambda f, n=n: n in answers(f))
                    assert answer.payload == json.dumps({"_no_resp_for": [n]}).encode()
                    continue
                [error] = await peer.receive_until(lambda f, n=n: n in answers(f))
                assert (error.msg["_sync_type"], error.msg["_resp_for"]) == (
                    expected,
                    [n],
                )
                assert error.msg["_sync_operation"] == "error"
                assert error.msg["network_msg"]["_sync_type"] == msg["_sync_type"]
            assert row.info == "unchanged"
            assert (row.type, row.sync_serial) == ("t", 1)
            await peer.close()

    run(scenario())


def test_payload_size_limit_is_inclusive(pki) -> None:
    async def scenario() -> None:
        srv, reg, peer = await connect(pki)
        async with srv:
            peer.send(F_OWNER_MSG)
            row_id = str(uuid.uuid4())
            msg = {"id": row_id, "info": "", "_sync_owner": F_OWNER,
                   "_sync_type": "TableInherits"}  # fmt: skip
            msg["info"] = "z" * (65536 - len(json.dumps(msg)))
            payload = json.dumps(msg).encode()
            assert len(payload) == 65536
            peer.send_payload(payload)
            assert [f.msg for f in await peer.barrier()] == []
            assert len(reg.store(TableInherits)[uuid.UUID(row_id)].info) > 65000
            # One byte more is a fatal framing error: the server closes the link.
            peer.send_payload(payload + b" ")
            try:
                rest = await peer.reader.read()
            except (ConnectionError, ssl.SSLError):
                rest = b""  # an abort may reset the TCP connection instead of EOF
            assert rest == b""
            await wait_until(lambda: not srv.connections)
            await peer.close()

    run(scenario())


def test_answer_with_an_error_class_unknown_here(pki) -> None:
    # §6.1: an error class from an optional module the server never imported is an
    # unregistered class; §6.3: failing to process an error is never answered.  The
    # request then ends as "no response".
    async def scenario() -> None:
        srv, reg, peer = await connect(pki)
        async with srv:
            row = await publish_row(reg, peer)
            [dest] = srv.destinations
            future = srv.synchronize(row, destinations=[dest], response=True)
            [request] = await peer.receive_requests(1)
            # (BrokenTransition was such a class until entanglement.transition existed.)
            peer.send({
                "args": ["plugin failed"], "network_msg": None, "context": None,
                "cause": None, "plugin_id": str(uuid.uuid4()),
                "_sync_is_error": True, "_sync_type": "PluginOnlyError",
                "_sync_operation": "error", "_resp_for": [request.number],
            })  # fmt: skip
            assert await future is None
            assert [f.msg for f in await peer.barrier()] == []
            await peer.close()

    run(scenario())


def test_metadata_only_request_is_no_responded(pki) -> None:
    # §19.3: every RESPONSE_NEEDED request is answered or no-responded, even a
    # metadata-only one (§4.4 says such frames are otherwise ignored).
    async def scenario() -> None:
        srv, _, peer = await connect(pki)
        async with srv:
            n = peer.request({"_no_resp_for": []})
            frames = await peer.barrier()
            assert any(n in answers(f) for f in [*frames, *peer.frames])
            await peer.close()

    run(scenario())
