"""Value codecs of entanglement.types: wire forms byte-exact, round trips, lookup."""

from __future__ import annotations

import datetime
import enum
import json
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from entanglement._hashes import CertHash, DestHash
from entanglement.types import (
    binary_decoder,
    binary_encoder,
    datetime_decoder,
    datetime_encoder,
    default_encoder,
    lookup_codec,
    register_enum,
    register_type,
    uuid_decoder,
    uuid_encoder,
)

UTC = datetime.UTC
PLUS2 = datetime.timezone(datetime.timedelta(hours=2))


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (
            datetime.datetime(2024, 8, 6, 12, 30, 5, tzinfo=UTC),
            "2024-08-06T12:30:05+00:00",
        ),
        (
            datetime.datetime(2024, 8, 6, 14, 30, 5, 120, tzinfo=PLUS2),
            "2024-08-06T12:30:05.000120+00:00",
        ),
        (datetime.datetime(2024, 8, 6, 12, 30, 5), "2024-08-06T12:30:05"),
        (datetime.datetime(2024, 8, 6, 12, 30, 5, 7), "2024-08-06T12:30:05.000007"),
        (datetime.date(2024, 8, 6), "2024-08-06"),
    ],
)
def test_datetime_encoder_wire_forms(value, wire):
    assert datetime_encoder(value) == wire


def test_datetime_decoder_always_aware():
    assert datetime_decoder("2024-08-06T12:30:05") == datetime.datetime(
        2024, 8, 6, 12, 30, 5, tzinfo=UTC
    )
    assert datetime_decoder("2024-08-06") == datetime.datetime(2024, 8, 6, tzinfo=UTC)
    got = datetime_decoder("2024-08-06T14:30:05+02:00")
    assert got == datetime.datetime(2024, 8, 6, 12, 30, 5, tzinfo=UTC)
    assert got.tzinfo is not None
    with pytest.raises(ValueError, match="isoformat"):
        datetime_decoder("yesterday")
    with pytest.raises(TypeError, match="ISO-8601"):
        datetime_decoder(17)  # type: ignore[arg-type]


@given(st.datetimes(timezones=st.just(UTC)))
def test_datetime_round_trip_aware(dt):
    wire = datetime_encoder(dt)
    assert datetime_decoder(wire) == dt
    assert wire.endswith("+00:00")
    assert ("." in wire) == (dt.microsecond != 0)


@given(st.datetimes())
def test_naive_datetime_is_sent_without_offset_and_read_as_utc(dt):
    wire = datetime_encoder(dt)
    assert "+" not in wire
    assert datetime_decoder(wire) == dt.replace(tzinfo=UTC)


def test_uuid_codec():
    u = uuid.UUID("7D1C0F4E-3F55-4A43-9A6B-1C2D3E4F5A6B")
    assert uuid_encoder(u) == "7d1c0f4e-3f55-4a43-9a6b-1c2d3e4f5a6b"
    assert uuid_decoder("7d1c0f4e-3f55-4a43-9a6b-1c2d3e4f5a6b") == u
    assert uuid_decoder("") is None
    with pytest.raises(ValueError, match="hexadecimal"):
        uuid_decoder("not-a-uuid")


def _outcome(parse, text):
    try:
        found = parse(text)
    except Exception as exc:  # the error is part of the behaviour (its message)
        return type(exc), str(exc)
    return found, found.int, found.is_safe, found.version


# 36-character texts near the canonical form: hex digits of both cases, hyphens
# anywhere, and characters int() or uuid.UUID treat specially
_NEAR_UUID = st.text(
    alphabet=st.sampled_from("0123456789abcdefABCDEF-_+ {}:urnix\u0663"),
    min_size=36,
    max_size=36,
)


@given(
    st.one_of(_NEAR_UUID, st.uuids().map(str), st.uuids().map(lambda u: str(u).upper()))
)
def test_uuid_decoder_takes_text_exactly_as_uuid_does(text):
    # the decoder's own parse of the 36-character form (issue 12) agrees with
    # uuid.UUID on every text: the same value, or the same error
    assert _outcome(uuid_decoder, text) == _outcome(uuid.UUID, text)


@given(st.uuids())
def test_uuid_round_trip(u):
    assert uuid_decoder(uuid_encoder(u)) == u


@given(st.binary())
def test_binary_is_standard_base64(raw):
    wire = binary_encoder(raw)
    assert binary_decoder(wire) == raw
    assert "-" not in wire
    assert "_" not in wire


def test_binary_wire_form_and_bad_input():
    assert binary_encoder(b"\xfb\xff\xfe") == "+//+"
    with pytest.raises(ValueError, match="base64"):
        binary_decoder("-__-")


class Color(enum.Enum):
    RED = "r"
    GREEN = "g"


register_enum(Color)


def test_enum_encodes_name_and_decodes_name_or_value():
    codec = lookup_codec(Color)
    assert codec is not None
    assert codec.encoder(Color.RED) == "RED"
    # quirk 26 fixed: the name (what peers send) decodes although it is not the value
    assert codec.decoder("RED") is Color.RED
    assert codec.decoder("g") is Color.GREEN
    with pytest.raises(ValueError, match="neither a member name nor a value of Color"):
        codec.decoder("BLUE")


def test_lookup_matches_subclasses():
    class MyDateTime(datetime.datetime):
        pass

    codec = lookup_codec(MyDateTime)
    assert codec is not None
    assert (
        codec.encoder(MyDateTime(2020, 1, 1, tzinfo=UTC)) == "2020-01-01T00:00:00+00:00"
    )
    assert lookup_codec(str) is None
    assert lookup_codec("datetime") is None  # unevaluated annotations match nothing
    hash_codec = lookup_codec(CertHash)
    assert hash_codec is not None
    h = CertHash(b"\1" * 32)
    assert hash_codec.decoder(hash_codec.encoder(h)) == h


def test_register_type_nearest_base_wins():
    class Base:
        pass

    class Child(Base):
        pass

    register_type(Base, lambda v: "base", lambda v: Base())
    register_type(Child, lambda v: "child", lambda v: Child())
    assert lookup_codec(Child).encoder(Child()) == "child"  # type: ignore[union-attr]

    class GrandChild(Child):
        pass

    assert lookup_codec(GrandChild).encoder(GrandChild()) == "child"  # type: ignore[union-attr]


def test_default_encoder_uses_sync_encode_value():
    h = DestHash(b"\2" * 32)
    assert default_encoder(h) == str(h)
    assert default_encoder([1, "a"]) == [1, "a"]
    json.dumps(default_encoder(h))
