"""``SyncConnection.events()``: the batch form gives exactly ``next_event()``'s events
(a plain message as its dict, which stands for its MessageReceived)."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from entanglement._exceptions import FrameTooLargeError, UnknownCriticalFlagsError
from entanglement._sansio import (
    MAX_PAYLOAD,
    NEED_DATA,
    RESPONSE_NEEDED,
    InvalidMessage,
    MessageReceived,
    SyncConnection,
    encode_frame,
)

# Every kind of frame the receive side tells apart, plain ones around each.
STREAM = [
    (b'{"_sync_type": "Item", "key": 1}', 0),
    (b'{"_sync_type": "Item", "key": 2}', RESPONSE_NEEDED),
    (b'{"_sync_type": "Item", "key": 3, "_resp_for": [7]}', 0),
    (b'{"_sync_type": "Item", "key": 4, "_no_resp_for": [8, 9]}', 0),
    (b'{"_no_resp_for": [1]}', 0),  # metadata-only: counted, no event
    (b'{"_sync_type": "Item"} ', 0),  # trailing whitespace is valid JSON
    (b' {"_sync_type": "Item"}', 0),  # so is leading whitespace
    (b'{"key": 5}', RESPONSE_NEEDED),  # no _sync_type: owed a _no_resp_for
    (b"{oops", 0),
    (b"[1, 2]", RESPONSE_NEEDED),
    (b"\xff\xfe", 0),  # not UTF-8
    (b'{"_sync_type": "Item", "key": 6, "_resp_for": "x"}', 0),
    (b'{"_sync_type": "Item", "k\\u00e9y": "\\u00e9"}', 0x00010000),  # info flag
    (b'{"_sync_type": "Item", "key": 7}', 0),
]


def summary(event: Any, number: int | None = None) -> tuple[Any, ...]:
    """What a caller can observe of an event (contexts compared by their shape)."""
    if type(event) is dict:  # a plain message from events(): numbered by in_count
        event = MessageReceived(number, 0, event, None, False)
    context = event.context
    shape = None
    if context is not None:  # requesters name their connection: keep the numbers
        shape = ([n for _, n in context.requesters], context.responded)
    if isinstance(event, MessageReceived):
        return (
            "msg",
            event.number,
            event.flags,
            event.message,
            event.is_response,
            shape,
        )
    assert isinstance(event, InvalidMessage)
    return ("bad", event.number, event.flags, event.reason, event.message, shape)


def feed(conn: SyncConnection, frames: list[tuple[bytes, int]]) -> None:
    conn.receive_data(b"".join(encode_frame(p, f) for p, f in frames))


def one_by_one(conn: SyncConnection) -> list[tuple[Any, ...]]:
    events = []
    while (event := conn.next_event()) is not NEED_DATA:
        events.append(summary(event))
    return events


def test_events_matches_next_event_frame_for_frame() -> None:
    batch, single = SyncConnection("batch"), SyncConnection("single")
    feed(batch, STREAM)
    feed(single, STREAM)
    got = [summary(e, batch.in_count - 1) for e in batch.events()]
    assert got == one_by_one(single)
    assert len(got) == len(STREAM) - 2  # the two frames without _sync_type
    assert batch.in_count == single.in_count == len(STREAM)
    assert [e[0] for e in got].count("bad") == 4
    assert batch.pending_no_resp == single.pending_no_resp == [7]


def test_a_partial_frame_waits_for_the_rest() -> None:
    conn = SyncConnection("A")
    frame = encode_frame(b'{"_sync_type": "Item", "key": 1}')
    conn.receive_data(frame + frame[:5])
    assert list(conn.events()) == [{"_sync_type": "Item", "key": 1}]
    assert conn.in_count == 1
    assert list(conn.events()) == []
    conn.receive_data(frame[5:])
    assert [e["key"] for e in conn.events()] == [1]
    assert conn.in_count == 2


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (struct.pack(">II", MAX_PAYLOAD + 1, 0), FrameTooLargeError),
        (struct.pack(">II", 2, 0x4), UnknownCriticalFlagsError),
    ],
)
def test_frames_before_a_fatal_header_are_yielded_then_it_raises(
    header: bytes, error: type[Exception]
) -> None:
    conn = SyncConnection("A")
    good = encode_frame(b'{"_sync_type": "Item", "key": 1}')
    conn.receive_data(good + good + header + b"{}")
    events = conn.events()
    assert [next(events)["key"], next(events)["key"]] == [1, 1]
    assert conn.in_count == 2
    with pytest.raises(error):
        next(events)
    with pytest.raises(error):  # the buffer stays poisoned
        list(conn.events())


def test_stopping_early_numbers_only_what_was_yielded() -> None:
    conn = SyncConnection("A")
    feed(conn, [(b'{"_sync_type": "Item"}', 0)] * 3)
    events = conn.events()
    assert next(events) == {"_sync_type": "Item"}
    events.close()  # the connection closed while the first was processed
    assert conn.in_count == 1


@given(st.lists(st.integers(1, 200), max_size=30))
def test_any_split_of_a_stream_gives_the_same_events(cuts: list[int]) -> None:
    # The runtime reads through events(): fed in arbitrary pieces, a stream must
    # give the same events, numbers and pending no-responses as fed whole.
    data = b"".join(encode_frame(p, f) for p, f in STREAM)
    whole = SyncConnection("whole")
    whole.receive_data(data)
    expected = [summary(e, whole.in_count - 1) for e in whole.events()]
    pieces = SyncConnection("pieces")
    got, pos = [], 0
    for cut in [*cuts, len(data)]:
        pieces.receive_data(data[pos : pos + cut])
        pos += cut
        got += [summary(e, pieces.in_count - 1) for e in pieces.events()]
        if pos >= len(data):
            break
    assert got == expected
    assert pieces.in_count == whole.in_count == len(STREAM)
    assert pieces.pending_no_resp == whole.pending_no_resp
