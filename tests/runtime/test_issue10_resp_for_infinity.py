"""Issue 10 item 12: ``_resp_for: [Infinity]`` is a bad number list, like ``[NaN]``.

``int(float("inf"))`` raises OverflowError, which used to escape the receive loop and
kill the connection (logged by asyncio without the peer's name).  It must get the same
``SyncBadEncodingError`` answer as ``[NaN]`` and leave the connection up.
"""

from __future__ import annotations

import logging

import pytest
from issue10_helpers import RAW_NAME, Serving, run, serving, still_answers
from raw_peer import RESPONSE_NEEDED


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
@pytest.mark.parametrize("key", [b"_resp_for", b"_no_resp_for"])
def test_non_finite_numbers_are_answered(pki, caplog, key, number) -> None:
    async def case(s: Serving) -> None:
        payload = b'{"_sync_type": "Thing", "%s": [%s]}' % (key, number)
        s.raw.send_payload(payload)  # no response asked: the error is unsolicited
        frame = await s.raw.receive()
        assert frame.msg["_sync_type"] == "SyncBadEncodingError"
        assert "_resp_for" not in frame.msg
        assert "non-integer" in frame.msg["args"][0]
        # A request holding one: the error answers it.
        asked = s.raw.send_payload(b'{"%s": [%s]}' % (key, number), RESPONSE_NEEDED)
        frame = await s.raw.receive()
        assert frame.msg["_sync_type"] == "SyncBadEncodingError"
        assert frame.msg["_resp_for"] == [asked]
        await still_answers(s.raw)
        assert not s.raw_protocol.closed

    with caplog.at_level(logging.WARNING, logger="entanglement"):
        run(serving(pki, case))
    assert "OverflowError" not in caplog.text
    assert f"'{RAW_NAME}' {pki.nodes['d'].hash}" in caplog.text
