"""Issue 10 item 13: peer text is quoted and capped in log lines and error texts.

A newline in ``_sync_operation`` used to forge a log line, a lone surrogate made a
UTF-8 file handler drop the record, a 60 KB ``_sync_type`` wrote 120 KB lines and made
the error reply too large for a frame (the requester then got "no response").  Every
record here must be one line, encodable as UTF-8 and short; every request must get its
error answer.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from issue10_helpers import RAW_NAME, Serving, run, serving, still_answers, thing_msg

from entanglement._sansio import MAX_PAYLOAD

BIG = 60_000
LINE_LIMIT = 2_000


def cases() -> list[tuple[str, dict[str, Any], str]]:
    owner = thing_msg()["_sync_owner"]
    return [
        (
            "newline in operation",
            thing_msg(_sync_operation="sync\nERROR entanglement: forged line"),
            "SyncInvalidOperation",
        ),
        (
            "newline in type",
            {"_sync_type": "Thing\nERROR forged"},
            "UnregisteredSyncClass",
        ),
        ("surrogate in type", {"_sync_type": "Thing\ud800"}, "UnregisteredSyncClass"),
        ("surrogate in key", thing_msg(**{"col\udfffor": 1}), "SyncBadEncodingError"),
        ("huge type", {"_sync_type": "T" * BIG}, "UnregisteredSyncClass"),
        (
            "huge operation",
            thing_msg(_sync_operation="o" * BIG),
            "SyncInvalidOperation",
        ),
        (
            "huge reserved key",
            thing_msg(**{"_" + "k" * BIG: 1}),
            "SyncBadEncodingError",
        ),
        ("huge attribute name", thing_msg(**{"k" * BIG: 1}), "SyncBadEncodingError"),
        ("huge undeclared value", thing_msg(weight="9" * BIG), "SyncBadEncodingError"),
        (
            "huge owner",
            thing_msg(_sync_owner=owner + "\n" + "x" * BIG),
            "SyncBadEncodingError",
        ),
    ]


@pytest.mark.parametrize(
    ("msg", "answer"), [c[1:] for c in cases()], ids=[c[0] for c in cases()]
)
def test_peer_text_is_quoted_and_capped(pki, caplog, msg, answer) -> None:
    async def case(s: Serving) -> None:
        payload = json.dumps(msg).encode()
        assert len(payload) <= MAX_PAYLOAD
        asked = s.raw.send_payload(payload, 1)
        frame = await s.raw.receive()
        assert frame.msg["_sync_type"] == answer
        assert frame.msg["_resp_for"] == [asked]
        assert len(frame.payload) <= MAX_PAYLOAD
        s.raw.send_payload(payload)  # unsolicited this time
        frame = await s.raw.receive()
        assert frame.msg["_sync_type"] == answer
        await still_answers(s.raw)

    with caplog.at_level(logging.DEBUG, logger="entanglement"):
        run(serving(pki, case))
    rejected = [r for r in caplog.records if RAW_NAME in r.getMessage()]
    assert rejected, "the rejections are logged, naming the peer"
    for record in caplog.records:
        line = record.getMessage()
        assert "\n" not in line, line[:300]
        assert "\r" not in line, line[:300]
        line.encode("utf-8")  # a lone surrogate would raise here
        assert len(line) <= LINE_LIMIT, line[:300]
        assert record.exc_info is None, line[:300]
