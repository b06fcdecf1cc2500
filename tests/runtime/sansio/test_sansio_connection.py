"""SyncConnection and ResponseContext: counters, requests, responses, no-responses."""

from __future__ import annotations

import json
import struct

import pytest
from sansio_helpers import Future, Item, finish, pump

from entanglement._exceptions import FrameTooLargeError, UnknownCriticalFlagsError
from entanglement._sansio import (
    MAX_PAYLOAD,
    NEED_DATA,
    RESPONSE_NEEDED,
    FrameBuffer,
    InvalidMessage,
    MessageReceived,
    ResponseContext,
    SyncConnection,
    decode_message,
    encode_frame,
)


def pair() -> tuple[SyncConnection, SyncConnection]:
    return SyncConnection("A", dest="dest-B"), SyncConnection("B", dest="dest-A")


def raw_frames(conn: SyncConnection) -> list[tuple[dict, int]]:
    buf = FrameBuffer()
    buf.receive_data(b"".join(conn.frames_to_send(1 << 30)))
    return [(decode_message(payload), flags) for payload, flags in buf.take_frames()]


def local_request(conn: SyncConnection, obj: Item) -> tuple[ResponseContext, Future]:
    fut = Future()
    ctx = ResponseContext(future=fut)
    conn.enqueue(obj, "forward", None, ctx, 100)
    ctx.release()  # the synchronize() call is over
    return ctx, fut


def test_frame_layout_and_sync_operation_omitted() -> None:
    a, _ = pair()
    a.enqueue(Item(1, a="x"), "sync", None, None, 100)
    a.enqueue(Item(2), "delete", None, None, 100)
    assert raw_frames(a) == [
        ({"key": 1, "a": "x", "_sync_type": "Item"}, 0),
        ({"key": 2, "_sync_type": "Item", "_sync_operation": "delete"}, 0),
    ]
    assert a.out_count == 2


def test_request_response_resolves_the_future() -> None:
    a, b = pair()
    _, fut = local_request(a, Item(1, a=1))
    [request] = pump(a, b)
    assert isinstance(request, MessageReceived)
    assert request.flags & RESPONSE_NEEDED
    assert request.number == 0
    assert list(a.awaited) == [0]
    # B answers: a sync whose context is the request's context, targeted at A.
    request.context.mark_targets(["dest-A"])
    b.enqueue(Item(1, a=2), "sync", None, request.context, 100)
    finish(request)
    [response] = pump(b, a)
    assert response.is_response
    assert response.message == {
        "key": 1,
        "a": 2,
        "_sync_type": "Item",
    }
    response.context.resolve("the object")
    finish(response)
    assert fut.result == "the object"
    assert a.awaited == {}


def test_request_left_unanswered_gets_no_response() -> None:
    a, b = pair()
    _, fut = local_request(a, Item(1))
    [request] = pump(a, b)
    finish(request)  # pipeline ends, nothing queued with the context
    assert b.pending_no_resp == [0]
    frames = raw_frames(b)
    assert frames == [({"_no_resp_for": [0]}, 0)]
    a.receive_data(encode_frame(json.dumps(frames[0][0]).encode(), 0))
    assert a.next_event() is NEED_DATA  # metadata-only: no event, but counted
    assert a.in_count == 1
    assert fut.done()
    assert fut.result is None


def test_no_response_piggybacks_on_the_next_frame() -> None:
    a, b = pair()
    local_request(a, Item(1))
    [request] = pump(a, b)
    finish(request)
    b.enqueue(Item(7), "sync", None, None, 100)
    assert raw_frames(b) == [({"key": 7, "_sync_type": "Item", "_no_resp_for": [0]}, 0)]


def test_chaining_through_a_gateway() -> None:
    # C -> S (gateway) -> M (owner); the answer travels back M -> S -> C.
    c_s, s_c = SyncConnection("C>S", "S"), SyncConnection("S>C", "C")
    s_m, m_s = SyncConnection("S>M", "M"), SyncConnection("M>S", "S")
    c_s.enqueue(Item(0), "sync", None, None, 100)  # shift C's numbering
    _, fut = local_request(c_s, Item(1, a="proposal"))
    events = pump(c_s, s_c)
    request = events[-1]
    assert request.number == 1
    # S relays toward M: targets do not include C, so the context stays unanswered.
    request.context.mark_targets(["M"])
    s_m.enqueue(Item(1, a="proposal"), "forward", None, request.context, 100)
    finish(request)
    assert s_c.pending_no_resp == []  # still held by the queued relay
    [relayed] = pump(s_m, m_s)
    assert relayed.flags & RESPONSE_NEEDED
    assert request.context.holds == 1  # the awaited entry on S>M
    # M answers, S recovers the same context and floods toward C.
    relayed.context.mark_targets(["S"])
    m_s.enqueue(Item(1, a="accepted"), "sync", None, relayed.context, 100)
    finish(relayed)
    [answer] = pump(m_s, s_m)
    assert answer.context is request.context
    assert answer.is_response
    answer.context.mark_targets(["C", "D"])
    s_c.enqueue(Item(1, a="accepted"), "sync", None, answer.context, 100)
    finish(answer)
    frames = raw_frames(s_c)
    assert frames == [
        ({"key": 1, "a": "accepted", "_sync_type": "Item", "_resp_for": [1]}, 0)
    ]
    c_s.receive_data(encode_frame(json.dumps(frames[0][0]).encode(), 0))
    final = c_s.next_event()
    final.context.resolve(final.message)
    finish(final)
    assert fut.result["a"] == "accepted"


def test_upstream_no_response_propagates_downstream() -> None:
    c_s, s_c = SyncConnection("C>S", "S"), SyncConnection("S>C", "C")
    s_m, m_s = SyncConnection("S>M", "M"), SyncConnection("M>S", "S")
    _, fut = local_request(c_s, Item(1))
    [request] = pump(c_s, s_c)
    s_m.enqueue(Item(1), "forward", None, request.context, 100)
    finish(request)
    [relayed] = pump(s_m, m_s)
    finish(relayed)  # M does not answer
    pump(m_s, s_m)
    assert s_c.pending_no_resp == [0]
    pump(s_c, c_s)
    assert fut.done()
    assert fut.result is None


def test_connection_loss_propagates_no_response() -> None:
    c_s, s_c = SyncConnection("C>S", "S"), SyncConnection("S>C", "C")
    s_m, m_s = SyncConnection("S>M", "M"), SyncConnection("M>S", "S")
    local_request(c_s, Item(1))
    [request] = pump(c_s, s_c)
    s_m.enqueue(Item(1), "forward", None, request.context, 100)
    finish(request)
    pump(s_m, m_s)
    s_m.connection_lost()
    assert s_c.pending_no_resp == [0]


def test_dropped_element_propagates_no_response() -> None:
    c_s, s_c = SyncConnection("C>S", "S"), SyncConnection("S>C", "C")
    s_m = SyncConnection("S>M", "M")
    local_request(c_s, Item(1))
    [request] = pump(c_s, s_c)
    s_m.enqueue(Item(1), "forward", None, request.context, 100)
    finish(request)
    s_m.connection_lost()  # never sent
    assert s_c.pending_no_resp == [0]


def test_local_future_resolves_none_when_nothing_was_queued() -> None:
    fut = Future()
    ResponseContext(future=fut).release()
    assert fut.done()
    assert fut.result is None


def test_error_response_fails_the_future() -> None:
    fut = Future()
    ctx = ResponseContext(future=fut)
    ctx.fail(ValueError("rejected"))
    ctx.release()
    assert isinstance(fut.exception, ValueError)


def test_merged_response_answers_several_requests() -> None:
    a, b = pair()
    _, f1 = local_request(a, Item(1, a=1))
    _, f2 = local_request(a, Item(2, a=1))
    r1, r2 = pump(a, b)
    r1.context.merge(r2.context)
    r1.context.mark_targets(["dest-A"])
    assert r1.context.requester_destinations() == {"dest-A"}
    b.enqueue(Item(1), "sync", None, r1.context, 100)
    finish(r1)
    finish(r2)
    [answer] = pump(b, a)
    assert answer.message["_sync_type"] == "Item"
    answer.context.resolve("both")
    finish(answer)
    assert (f1.result, f2.result) == ("both", "both")


def test_unknown_resp_for_numbers_are_ignored() -> None:
    a = SyncConnection("A")
    a.receive_data(encode_frame(b'{"_sync_type": "Item", "key": 1, "_resp_for": [99]}'))
    event = a.next_event()
    assert isinstance(event, MessageReceived)
    assert event.context is None
    assert not event.is_response
    assert event.message == {"_sync_type": "Item", "key": 1}


def test_response_needed_with_resp_for_is_invalid() -> None:
    a = SyncConnection("A")
    a.receive_data(encode_frame(b'{"_sync_type": "Item", "_resp_for": [0]}', 1))
    event = a.next_event()
    assert isinstance(event, InvalidMessage)
    assert "RESPONSE_NEEDED" in event.reason
    assert event.context is not None
    assert event.context.requesters == [(a, 0)]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{oops", "not valid JSON"),
        (b"[1]", "not a JSON object"),
        (b'{"_sync_type": "X", "_no_resp_for": 3}', "must be a JSON array"),
        (b'{"_sync_type": "X", "_resp_for": ["x"]}', "non-integer"),
    ],
)
def test_bad_payload_consumes_a_number_and_the_stream_goes_on(
    payload: bytes, reason: str
) -> None:
    a = SyncConnection("A")
    a.receive_data(encode_frame(payload, 1) + encode_frame(b'{"_sync_type": "Y"}'))
    bad = a.next_event()
    assert isinstance(bad, InvalidMessage)
    assert reason in bad.reason
    assert bad.number == 0
    assert bad.context is not None
    good = a.next_event()
    assert isinstance(good, MessageReceived)
    assert good.number == 1


def test_numbers_may_be_digit_strings() -> None:
    a, b = pair()
    _, fut = local_request(a, Item(1))
    pump(a, b)
    a.receive_data(encode_frame(b'{"_no_resp_for": ["0"]}'))
    assert a.next_event() is NEED_DATA
    assert fut.result is None
    assert fut.done()


def test_fatal_framing_errors_raise() -> None:
    a = SyncConnection("A")
    a.receive_data(struct.pack(">II", MAX_PAYLOAD + 1, 0))
    with pytest.raises(FrameTooLargeError):
        a.next_event()
    b = SyncConnection("B")
    b.receive_data(encode_frame(b"{}", 0x10))
    with pytest.raises(UnknownCriticalFlagsError):
        b.next_event()


def test_oversized_payload_is_refused_without_burning_a_number(
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, _b = pair()
    local_request(a, Item(5))  # number 0, awaited
    a.frames_to_send(1 << 30)
    a.receive_data(encode_frame(b'{"_sync_type": "Item", "key": 1}', 1))
    request = a.next_event()
    ctx = request.context
    ctx.mark_targets(["dest-B"])
    a.add_no_response(41)
    a.enqueue(Item(1, a="x" * (MAX_PAYLOAD + 10)), "sync", None, ctx, 100)
    finish(request)
    with caplog.at_level("ERROR", logger="entanglement.protocol"):
        assert a.frames_to_send(1 << 30) == [
            encode_frame(b'{"_no_resp_for": [41, 0]}', 0)
        ]
    assert "A: not sending" in caplog.text
    assert "65536" in caplog.text
    assert a.out_count == 2  # one request, one metadata frame; nothing burnt
    assert list(a.awaited) == [0]


def test_metadata_only_request_gets_a_no_response() -> None:
    a = SyncConnection("A")
    a.receive_data(encode_frame(b'{"_no_resp_for": []}', 1) + encode_frame(b"{}", 1))
    assert a.next_event() is NEED_DATA
    assert a.pending_no_resp == [0, 1]
    assert raw_frames(a) == [({"_no_resp_for": [0, 1]}, 0)]
