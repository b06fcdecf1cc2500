"""Bad input written as raw bytes on a real TLS client socket into a running SyncServer.

Each case asserts what the raw client gets back (decoded frames), that the server keeps
serving a well-behaved peer, and that the log names the offending peer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import struct
from typing import Any

import pytest
from net_helpers import (
    Owner,
    Thing,
    connect_pair,
    fresh_registries,
    manager,
    port_of,
    run,
    server,
    wait_until,
)

from entanglement._sansio import FrameBuffer, decode_message, encode_frame
from entanglement.network import SyncDestination

RAW_NAME = "raw peer"


class RawClient:
    """A TLS client speaking the framing by hand."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer
        self.frames = FrameBuffer()
        self.ready: list[tuple[bytearray, int]] = []

    @classmethod
    async def connect(cls, node: Any, port: int) -> RawClient:
        ctx = ssl.create_default_context(cafile=str(node.cafile))
        ctx.load_cert_chain(str(node.cert), str(node.key))
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
        return cls(reader, writer)

    def send(self, payload: bytes | dict[str, Any], flags: int = 0) -> None:
        if isinstance(payload, dict):
            payload = json.dumps(payload).encode()
        self.writer.write(encode_frame(payload, flags))

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    async def receive(self) -> tuple[dict[str, Any], int]:
        while not self.ready:
            data = await self.reader.read(65536)
            assert data, "connection closed while waiting for a frame"
            self.frames.receive_data(data)
            self.ready = self.frames.take_frames()
        payload, flags = self.ready.pop(0)
        return decode_message(payload), flags

    async def closed_by_peer(self) -> bool:
        try:
            return await self.reader.read() == b""
        except (ConnectionError, ssl.SSLError):
            return True

    async def aclose(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await self.writer.wait_closed()


async def serving(pki: Any, case: Any) -> None:
    """Server A with a good client B and the raw client D; run ``case(raw)``."""
    ra, rb, _ = fresh_registries()
    a, b, d = pki.nodes["a"], pki.nodes["b"], pki.nodes["d"]
    async with server(a, ra) as srv, manager(b, rb) as good:
        await connect_pair(srv, good, a, b)
        srv.add_destination(SyncDestination(d.hash, RAW_NAME))
        raw = await RawClient.connect(d, port_of(srv))
        await wait_until(lambda: len(srv.connections) == 2)
        try:
            await case(raw, ra)
        finally:
            await raw.aclose()
        # The server still serves its other peer.
        srv.synchronize(ra.add_local(Thing(77, Owner(), color="still here")))
        await rb.wait_for(lambda: 77 in rb.things)


def run_case(
    pki: Any, caplog: pytest.LogCaptureFixture, case: Any, level: int = logging.WARNING
) -> str:
    with caplog.at_level(level, logger="entanglement"):
        run(serving(pki, case))
    return caplog.text


def thing_msg(**extra: Any) -> dict[str, Any]:
    msg = {"id": 5, "color": "c", "_sync_owner": str(Owner().id), "_sync_type": "Thing"}
    msg.update(extra)
    return msg


async def expect_bad_encoding(raw: RawClient, match: str, resp_for: list[int]) -> None:
    msg, flags = await raw.receive()
    assert flags == 0
    assert msg["_sync_type"] == "SyncBadEncodingError"
    assert msg["_sync_operation"] == "error"
    assert msg["_sync_is_error"] is True
    assert msg.get("_resp_for") == resp_for
    assert match in msg["args"][0]


async def still_answers(raw: RawClient, number: int) -> None:
    # A request that nobody answers (an unknown class) must still get its error back.
    raw.send({"_sync_type": "NoSuchClass"}, flags=1)
    msg, _ = await raw.receive()
    assert msg["_sync_type"] == "UnregisteredSyncClass"
    assert msg["_resp_for"] == [number]


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b"{this is not json", "not valid JSON"),
        (b"\xff\xfe\xfd", "not UTF-8"),
        (b"[1, 2, 3]", "not a JSON object"),
        (b'"a string"', "not a JSON object"),
    ],
)
def test_bad_payload_is_answered_and_the_link_survives(pki, caplog, payload, match):
    async def case(raw: RawClient, reg: Any) -> None:
        raw.send(payload, flags=1)  # in-number 0, asks for a response
        await expect_bad_encoding(raw, match, [0])
        raw.send(payload)  # in-number 1, no response wanted: sent unsolicited
        await expect_bad_encoding(raw, match, None)
        await still_answers(raw, 2)

    log = run_case(pki, caplog, case)
    assert f"'{RAW_NAME}' {pki.nodes['d'].hash}" in log
    assert "bad frame #0" in log


def test_oversized_length_closes_the_connection(pki, caplog) -> None:
    async def case(raw: RawClient, reg: Any) -> None:
        raw.send_raw(struct.pack(">II", 65537, 0) + b"{" * 100)
        assert await raw.closed_by_peer()

    log = run_case(pki, caplog, case)
    assert f"'{RAW_NAME}' {pki.nodes['d'].hash}" in log
    assert "65537 payload bytes" in log
    assert "closing the connection" in log


def test_unknown_critical_flag_closes_the_connection(pki, caplog) -> None:
    async def case(raw: RawClient, reg: Any) -> None:
        raw.send(thing_msg(), flags=0x0004)
        assert await raw.closed_by_peer()
        assert 5 not in reg.things

    log = run_case(pki, caplog, case)
    assert f"'{RAW_NAME}' {pki.nodes['d'].hash}" in log
    assert "unknown critical flag bits 0x0004" in log


def test_non_critical_flags_are_ignored(pki, caplog) -> None:
    async def case(raw: RawClient, reg: Any) -> None:
        raw.send(thing_msg(), flags=0x00FF0000)
        await wait_until(lambda: 5 in reg.things)
        await still_answers(raw, 1)

    run_case(pki, caplog, case)


def test_unknown_reserved_key(pki, caplog) -> None:
    async def case(raw: RawClient, reg: Any) -> None:
        raw.send(thing_msg(_surprise=1), flags=1)
        await expect_bad_encoding(raw, "unknown reserved key '_surprise'", [0])
        raw.send(thing_msg(_no_resp=[1]), flags=1)  # quirk 5: not reserved either
        await expect_bad_encoding(raw, "'_no_resp'", [1])
        assert 5 not in reg.things
        await still_answers(raw, 2)

    log = run_case(pki, caplog, case)
    assert f"'{RAW_NAME}' {pki.nodes['d'].hash} at 127.0.0.1:" in log
    assert "rejected sync of 'Thing': unknown reserved key '_surprise'" in log


def test_undeclared_attribute(pki, caplog) -> None:
    async def case(raw: RawClient, reg: Any) -> None:
        raw.send(thing_msg(weight=3), flags=1)
        msg, _ = await raw.receive()
        assert msg["_sync_type"] == "SyncBadEncodingError"
        assert msg["_resp_for"] == [0]
        assert "weight" in msg["args"][0]
        assert msg["network_msg"]["weight"] == 3
        assert 5 not in reg.things
        await still_answers(raw, 1)

    log = run_case(pki, caplog, case)
    assert f"'{RAW_NAME}' {pki.nodes['d'].hash}" in log


def test_response_number_never_sent_is_ignored(pki, caplog) -> None:
    async def case(raw: RawClient, reg: Any) -> None:
        raw.send(thing_msg(_resp_for=[12345]))  # quirk 3: ignored, message processed
        await wait_until(lambda: 5 in reg.things)
        await still_answers(raw, 1)

    log = run_case(pki, caplog, case, logging.DEBUG)
    assert f"'{RAW_NAME}' {pki.nodes['d'].hash} at 127.0.0.1:" in log
    assert "ignoring _resp_for 12345, not awaited" in log


def test_response_needed_with_resp_for(pki, caplog) -> None:
    async def case(raw: RawClient, reg: Any) -> None:
        raw.send(thing_msg(_resp_for=[0]), flags=1)
        await expect_bad_encoding(raw, "RESPONSE_NEEDED", [0])
        assert 5 not in reg.things
        await still_answers(raw, 1)

    run_case(pki, caplog, case)


def test_metadata_only_frames_count(pki, caplog) -> None:
    async def case(raw: RawClient, reg: Any) -> None:
        raw.send({"_no_resp_for": [3]})  # in-number 0, nothing to do
        raw.send({})  # in-number 1
        await still_answers(raw, 2)

    run_case(pki, caplog, case)


def test_bad_messages_between_good_ones_without_a_request(pki, caplog) -> None:
    # Plain frames (no RESPONSE_NEEDED) take the receive side's routed path, which
    # reuses the previous message's validation when the keys are the same: a bad
    # key must still be caught, answered with an unsolicited error, and the good
    # messages around it stored.
    async def case(raw: RawClient, reg: Any) -> None:
        owner = str(Owner().id)
        good = {"color": "c", "_sync_owner": owner, "_sync_type": "Thing"}
        raw.send({"id": 1, **good})
        raw.send({"id": 2, **good, "_surprise": 1})
        raw.send({"id": 3, **good, "weight": 3})
        raw.send({"id": 9, "_sync_type": "NoSuchClass"})
        raw.send({"id": 4, **good})
        for kind, match in (
            ("SyncBadEncodingError", "unknown reserved key '_surprise'"),
            ("SyncBadEncodingError", "'weight'"),
            ("UnregisteredSyncClass", "'NoSuchClass'"),
        ):
            msg, flags = await raw.receive()
            assert (flags, msg["_sync_type"]) == (0, kind)
            assert "_resp_for" not in msg
            assert match in msg["args"][0]
        await wait_until(lambda: 4 in reg.things)
        assert sorted(reg.things) == [1, 4]
        await still_answers(raw, 5)

    log = run_case(pki, caplog, case)
    assert "rejected sync of 'Thing': unknown reserved key '_surprise'" in log
