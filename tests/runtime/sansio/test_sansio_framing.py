"""FrameBuffer and the JSON layer: fed whole, byte by byte, with trailing data."""

from __future__ import annotations

import itertools
import json
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from entanglement._exceptions import (
    BadPayloadError,
    FrameTooLargeError,
    LocalProtocolError,
    UnknownCriticalFlagsError,
)
from entanglement._sansio import (
    MAX_PAYLOAD,
    RESPONSE_NEEDED,
    FrameBuffer,
    decode_message,
    encode_frame,
    encode_message,
)

MESSAGES = [
    ({"_sync_type": "A", "x": 1}, 0),
    ({"_sync_type": "B", "s": "héllo ☃", "n": None}, 1),
    ({"_no_resp_for": [3, 4]}, 0x00010000),
]
STREAM = b"".join(encode_frame(encode_message(m), f) for m, f in MESSAGES)
EXPECTED = [(encode_message(m), f) for m, f in MESSAGES]
Frame = tuple[bytes | bytearray, int]


def drain(buf: FrameBuffer) -> list[Frame]:
    return list(buf.take_frames())


def test_whole_stream() -> None:
    buf = FrameBuffer()
    buf.receive_data(STREAM)
    assert drain(buf) == EXPECTED
    assert buf.buffered == 0


def test_byte_by_byte() -> None:
    buf = FrameBuffer()
    frames: list[Frame] = []
    for i in range(len(STREAM)):
        buf.receive_data(STREAM[i : i + 1])
        frames.extend(buf.take_frames())
    assert frames == EXPECTED


def test_trailing_partial_frame_is_kept() -> None:
    extra = encode_frame(b'{"_sync_type": "C"}', 0)
    buf = FrameBuffer()
    buf.receive_data(STREAM + extra[:11])
    assert drain(buf) == EXPECTED
    assert buf.buffered == 11
    buf.receive_data(extra[11:])
    assert drain(buf) == [(b'{"_sync_type": "C"}', 0)]


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_any_split_yields_the_same_frames(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(STREAM)]
    buf = FrameBuffer()
    frames: list[Frame] = []
    for lo, hi in itertools.pairwise(bounds):
        buf.receive_data(STREAM[lo:hi])
        frames.extend(buf.take_frames())
    assert frames == EXPECTED


def test_payload_limit_is_inclusive() -> None:
    payload = b" " * MAX_PAYLOAD
    buf = FrameBuffer()
    buf.receive_data(encode_frame(payload, 0))
    assert drain(buf) == [(payload, 0)]


def test_oversized_length_fails_from_the_header_alone() -> None:
    buf = FrameBuffer()
    buf.receive_data(struct.pack(">II", MAX_PAYLOAD + 1, 0))
    with pytest.raises(FrameTooLargeError, match="65537"):
        buf.take_frames()
    # Poisoned: later data does not revive the stream.
    buf.receive_data(b"x" * 10)
    with pytest.raises(FrameTooLargeError):
        buf.take_frames()


@pytest.mark.parametrize("flag", [0x2, 0x4, 0x8000])
def test_unknown_critical_flag_is_fatal(flag: int) -> None:
    buf = FrameBuffer()
    buf.receive_data(encode_frame(b"{}", flag | 1))
    with pytest.raises(UnknownCriticalFlagsError, match=hex(flag)[2:]):
        buf.take_frames()


def test_high_flag_bits_are_ignored() -> None:
    buf = FrameBuffer()
    buf.receive_data(encode_frame(b"{}", 0xFFFF0001))
    [(_, flags)] = buf.take_frames()
    assert flags & RESPONSE_NEEDED


def test_encode_frame_refuses_oversized_payload() -> None:
    with pytest.raises(LocalProtocolError, match="65537"):
        encode_frame(b"x" * (MAX_PAYLOAD + 1), 0)


@pytest.mark.parametrize(
    "msg",
    [
        {"a": 1, "b": [1, 2.5, None, True], "c": 'é☃\n"', "d": {"e": "f"}},
        {"nan": float("nan"), "inf": float("inf")},
        {},
    ],
)
def test_encoding_is_json_dumps_default_style(msg: dict[str, object]) -> None:
    assert encode_message(msg) == json.dumps(msg).encode("ascii")


def test_decoding_accepts_any_valid_utf8_json() -> None:
    assert decode_message('{"s":"\u00e9☃","n":[1,2]}'.encode()) == {
        "s": "é☃",
        "n": [1, 2],
    }
    assert decode_message(b'{"x": NaN}')["x"] != 0


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[1, 2]", "JSON list, not a JSON object"),
        (b'"text"', "JSON str"),
        (b"[" * 100000, "not valid JSON|nested too deeply"),
    ],
)
def test_bad_payloads(payload: bytes, match: str) -> None:
    with pytest.raises(BadPayloadError, match=match):
        decode_message(payload)
