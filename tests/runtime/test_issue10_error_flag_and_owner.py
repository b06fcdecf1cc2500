"""Issue 10 item 16: ``_sync_is_error`` and ``_sync_owner`` are validated (§3.1, §6).

* A peer could mark any message ``_sync_is_error`` and so silence every error reply to
  it (§6.2 says a message that is itself an error is never answered with one).  Only
  the error classes (§6.1) carry the flag, and its value is ``true``: anything else is
  a ``SyncBadEncodingError`` sent back like any other.
* ``_sync_owner`` is the owner's UUID text (§3.1, §8.5): owner fields of other JSON
  types (numbers, lists, objects, booleans, non-UUID text) used to reach the
  application's hooks; they are refused before any hook runs.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from issue10_helpers import Serving, run, serving, still_answers, thing_msg

from entanglement._sansio import encode_frame, encode_message


async def refused(s: Serving, msg: dict[str, Any], match: str) -> None:
    asked = s.raw.request(msg)
    frame = await s.raw.receive()
    assert frame.msg["_sync_type"] == "SyncBadEncodingError", frame.msg
    assert frame.msg["_resp_for"] == [asked]
    assert match in frame.msg["args"][0]
    # and without RESPONSE_NEEDED: an unsolicited error
    s.raw.send(msg)
    frame = await s.raw.receive()
    assert frame.msg["_sync_type"] == "SyncBadEncodingError", frame.msg
    assert "_resp_for" not in frame.msg


@pytest.mark.parametrize("flag", [True, False, 1, "yes", None])
def test_a_non_error_class_marked_as_error_is_answered(pki, caplog, flag) -> None:
    async def case(s: Serving) -> None:
        # An undeclared attribute: refused, and the flag must not hide the answer.
        await refused(s, thing_msg(weight=3, _sync_is_error=flag), "_sync_is_error")
        assert 5 not in s.ra.things
        await still_answers(s.raw)

    with caplog.at_level(logging.WARNING, logger="entanglement"):
        run(serving(pki, case))


def test_a_good_message_marked_as_error_is_refused_not_stored(pki) -> None:
    async def case(s: Serving) -> None:
        await refused(s, thing_msg(_sync_is_error=True), "_sync_is_error")
        assert 5 not in s.ra.things
        await still_answers(s.raw)

    run(serving(pki, case))


def test_an_error_flag_that_is_not_true_is_refused(pki) -> None:
    async def case(s: Serving) -> None:
        # A real error class, flag not ``true``: refused (and answered, it is
        # malformed).  A well-formed unsolicited error is silently dropped (§6.3).
        error = {"args": ["x"], "_sync_type": "SyncError", "_sync_operation": "error"}
        await refused(s, {**error, "_sync_is_error": "true"}, "_sync_is_error")
        s.raw.send({**error, "_sync_is_error": True})
        await still_answers(s.raw)

    run(serving(pki, case))


def test_the_error_flag_is_checked_on_every_message_of_a_chunk(pki) -> None:
    async def case(s: Serving) -> None:
        # One write, hence one received chunk and one receive plan: the second
        # message has the same keys as the first, and its flag is still checked.
        error = {"args": ["x"], "_sync_type": "SyncError", "_sync_operation": "error"}
        frames = b"".join(
            encode_frame(encode_message({**error, "_sync_is_error": flag}))
            for flag in (True, "true")
        )
        s.raw.writer.write(frames)
        s.raw.out_count += 2
        frame = await s.raw.receive()
        assert frame.msg["_sync_type"] == "SyncBadEncodingError", frame.msg
        assert "_sync_is_error" in frame.msg["args"][0]
        await still_answers(s.raw)

    run(serving(pki, case))


@pytest.mark.parametrize(
    "owner",
    [5, 1.5, True, [1], {"id": 1}, "not a uuid", "", "0" * 36, "{" + "1" * 34 + "}"],
)
def test_owner_fields_of_other_types_never_reach_hooks(pki, owner) -> None:
    seen: list[Any] = []

    async def case(s: Serving) -> None:
        def should_listen(msg: dict[str, Any], cls: type, **info: Any) -> bool:
            seen.append(msg.get("_sync_owner"))
            return True

        s.ra.should_listen = should_listen  # type: ignore[method-assign]
        await refused(s, thing_msg(_sync_owner=owner), "_sync_owner")
        assert seen == []
        good = thing_msg(id=6)
        s.raw.send(good)
        await s.ra.wait_for(lambda: 6 in s.ra.things)
        assert seen == [good["_sync_owner"]]
        del s.ra.should_listen

    run(serving(pki, case))


def test_a_null_owner_is_absent(pki) -> None:
    # null is how an ownerless object's owner encodes (SQL legacy rows): it is not
    # refused by the validation; the class decides (Thing requires an owner).
    async def case(s: Serving) -> None:
        asked = s.raw.request(thing_msg(_sync_owner=None))
        frame = await s.raw.receive()
        assert frame.msg["_sync_type"] == "SyncBadOwner"
        assert frame.msg["_resp_for"] == [asked]

    run(serving(pki, case))
