"""JsonCodec (the per-connection fast JSON path) gives exactly what the plain functions give.

Same bytes on encode, same value or same error text on decode, including the inputs that
make the fast path fall back (whitespace, trailing data, bad UTF-8, non-objects, deep
nesting), and an encode failure does not poison later encodes.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from entanglement._exceptions import BadPayloadError
from entanglement._sansio import JsonCodec, decode_message, encode_message

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6))
def test_encode_matches_json_dumps(msg: dict[str, Any]) -> None:
    assert JsonCodec().encode(msg) == encode_message(msg)
    assert JsonCodec().encode(msg) == json.dumps(msg).encode("ascii")


@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6))
def test_decode_round_trips_like_json_loads(msg: dict[str, Any]) -> None:
    payload = json.dumps(msg).encode()
    decoded = JsonCodec().decode(payload)
    # NaN != NaN: compare the re-encoded text instead of the values
    assert json.dumps(decoded) == json.dumps(decode_message(payload))


def _outcome(fn: Any, payload: bytes) -> Any:
    try:
        return ("ok", json.dumps(fn(payload)))
    except BadPayloadError as exc:
        return ("error", str(exc))


@pytest.mark.parametrize(
    "payload",
    [
        b' {"a": 1}',
        b'{"a": 1} ',
        b'{"a": 1}\n',
        b'{"a": 1} x',
        b'{"a": 1}{"b": 2}',
        b"[1, 2]",
        b'"text"',
        b"",
        b"   ",
        b"{",
        b'{"a": NaN, "b": -Infinity}',
        b'{"\xff": 1}',
        b'{"a": "\xc3\xa9"}',
        b'{"a": 1, "a": 2}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    ],
)
def test_decode_gives_the_same_value_or_error(payload: bytes) -> None:
    assert _outcome(JsonCodec().decode, payload) == _outcome(decode_message, payload)


def test_encode_failure_raises_the_usual_error_and_does_not_poison() -> None:
    codec = JsonCodec()
    inner: dict[str, Any] = {"x": 1, "oops": object()}
    with pytest.raises(TypeError, match="not JSON serializable"):
        codec.encode({"inner": inner})
    # a failed encode leaves no state behind: the same dict encodes once fixed
    del inner["oops"]
    assert codec.encode({"inner": inner}) == b'{"inner": {"x": 1}}'
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(ValueError, match="Circular reference"):
        codec.encode(loop)  # the C encoder keeps no table: the general path says it
    with pytest.raises(ValueError, match="Circular reference"):
        codec.encode({"list": [loop]})
    assert codec.encode({"n": math.inf}) == b'{"n": Infinity}'
