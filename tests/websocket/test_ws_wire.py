"""The §2.2 wire form, seen by a bare WebSocket client (no entanglement runtime)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from exercise_sync import Side
from presence_sync import Cursor
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from ws_helpers import Sessions, run, server, url_of, user_hash, wait_until

from entanglement._sansio import RESPONSE_NEEDED, encode_frame
from entanglement.websocket import serve_websocket
from entanglement.websocket_transport import frames_to_messages, message_to_frame


async def _recv(ws: Any) -> dict[str, Any]:
    message = await ws.recv()
    assert isinstance(message, str)  # text messages only (§2.2)
    decoded: dict[str, Any] = json.loads(message)
    return decoded


def test_flags_in_json_requests_errors_and_no_response() -> None:
    async def scenario() -> None:
        srv, rs = server()
        async with srv:
            listener = await serve_websocket(srv, Sessions("ann"), path="/sync")
            async with connect(url_of(listener)) as ws:
                # #0 asks for a response: the error answers it, with _flags added.
                await ws.send(json.dumps({"_sync_type": "NoSuchType", "_flags": 1}))
                error = await _recv(ws)
                assert error["_resp_for"] == [0]
                assert error["_flags"] == 0
                assert error["_sync_is_error"] is True
                assert "NoSuchType" in error["args"][0]

                # #1 is not JSON: an error without _resp_for (nothing was asked).
                await ws.send("{not json")
                error = await _recv(ws)
                assert error["_sync_is_error"] is True
                assert "_resp_for" not in error

                # #2 an owner, #3 a cursor asking for a response that nobody gives.
                owner = str(uuid.uuid4())
                await ws.send(
                    json.dumps({"_sync_type": "SyncOwner", "_sync_owner": owner})
                )
                who = str(uuid.uuid4())
                cursor = {
                    "_sync_type": "Cursor",
                    "_sync_owner": owner,
                    "_sync_operation": "sync",
                    "_flags": 1,
                    "participant": who,
                    "board": "map",
                    "x": 1.0,
                    "y": 2.0,
                    "color": "#0000ff",
                    "side": "red",
                }
                await ws.send(json.dumps(cursor))
                assert await _recv(ws) == {"_flags": 0, "_no_resp_for": [3]}
                stored = rs.store_for_class(Cursor)[(uuid.UUID(who), "map")]
                assert (stored.x, stored.color, stored.side) == (1.0, 0xFF, Side.RED)

                # What the server sends: one text message per object, _flags inside.
                mine = Cursor(participant=uuid.uuid4(), board="b", side=Side.BLUE)
                rs.store_synchronize(mine)
                first, second = await _recv(ws), await _recv(ws)
                assert (first["_sync_type"], first["_flags"]) == ("SyncOwner", 0)
                assert (second["_sync_type"], second["_flags"]) == ("Cursor", 0)
                assert second["participant"] == str(mine.participant)

    run(scenario())


def test_refused_session_gets_403_with_the_reason() -> None:
    async def scenario() -> None:
        srv, _ = server()
        async with srv:
            listener = await serve_websocket(srv, Sessions("ann"), path="/sync")
            with pytest.raises(InvalidStatus) as refused:
                await connect(url_of(listener, "eve"))
            assert refused.value.response.status_code == 403
            assert refused.value.response.body == b"Not authorized destination\n"
            with pytest.raises(InvalidStatus) as wrong_path:
                await connect(url_of(listener, "ann", path="/other"))
            assert wrong_path.value.response.status_code == 404

    run(scenario())


def test_failing_hook_gives_500_and_the_server_stays_up() -> None:
    def broken(request: Any) -> Any:
        raise RuntimeError("session store down")

    async def scenario() -> None:
        srv, _ = server()
        async with srv:
            listener = await serve_websocket(srv, broken)
            with pytest.raises(InvalidStatus) as failed:
                await connect(url_of(listener))
            assert failed.value.response.status_code == 500
            good = await serve_websocket(srv, Sessions("ann"))
            async with connect(url_of(good)) as ws:
                await wait_until(lambda: bool(srv.connections))
                await ws.send(json.dumps({"_sync_type": "Nope", "_flags": 1}))
                assert (await _recv(ws))["_resp_for"] == [0]

    run(scenario())


def test_oversized_message_closes_the_connection() -> None:
    async def scenario() -> None:
        srv, _ = server()
        async with srv:
            listener = await serve_websocket(srv, Sessions("ann"))
            async with connect(url_of(listener), max_size=None) as ws:
                await wait_until(lambda: bool(srv.connections))
                big = {"_sync_type": "Cursor", "board": "x" * 70_000}
                await ws.send(json.dumps(big))
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
                assert closed.value.rcvd is not None
                assert closed.value.rcvd.code == 1009  # message too big
            await wait_until(lambda: not srv.connections)
            assert srv.dest_by_hash(user_hash("ann")) is None

    run(scenario())


def test_frame_conversion_both_ways() -> None:
    text = '{"_flags": 1, "_sync_type": "A"}'
    frame = message_to_frame(text)
    # The JSON goes on as it came (the pipeline drops _flags); the flag moves out.
    assert frame == len(text).to_bytes(4, "big") + b"\0\0\0\1" + text.encode()
    # Only RESPONSE_NEEDED counts on WebSocket; a non-integer counts as 0.
    assert message_to_frame('{"_flags": 65535, "a": 1}')[4:8] == b"\0\0\0\1"
    assert message_to_frame('{"_flags": "1", "a": 1}')[4:8] == b"\0\0\0\0"
    two = encode_frame(b'{"a": 1}') + encode_frame(b'{"b": [2]}', RESPONSE_NEEDED)
    assert frames_to_messages(two) == [
        '{"_flags": 0, "a": 1}',
        '{"_flags": 1, "b": [2]}',
    ]
    assert frames_to_messages(message_to_frame("{}")) == ['{"_flags": 0}']


def test_messages_sent_just_before_a_close_are_processed() -> None:
    async def scenario() -> None:
        srv, rs = server()
        async with srv:
            listener = await serve_websocket(srv, Sessions("ann"))
            owner = str(uuid.uuid4())
            who = [str(uuid.uuid4()) for _ in range(50)]
            async with connect(url_of(listener)) as ws:
                await wait_until(lambda: bool(srv.connections))
                await ws.send(
                    json.dumps({"_sync_type": "SyncOwner", "_sync_owner": owner})
                )
                for participant in who:
                    cursor = {
                        "_sync_type": "Cursor",
                        "_sync_owner": owner,
                        "participant": participant,
                        "board": "last words",
                        "side": "red",
                    }
                    await ws.send(json.dumps(cursor))
            # The client closed right after sending: every cursor still counts.
            stored = rs.store_for_class(Cursor)
            await wait_until(lambda: not srv.connections)
            assert all((uuid.UUID(p), "last words") in stored for p in who)

    run(scenario())
