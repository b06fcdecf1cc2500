"""DestHash / CertHash: text form, parsing edge cases, unix identity, certificates."""

from __future__ import annotations

import base64
import datetime
import hashlib
import pickle
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from entanglement._hashes import CertHash, DestHash, certhash_from_file

EXAMPLE = "ni:///sha-256;ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0="


def make_cert(cn: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert, key


def test_text_form_round_trips_the_spec_example():
    h = DestHash.parse(EXAMPLE)
    assert str(h) == EXAMPLE
    assert len(str(h)) == 58
    assert h.sync_encode_value() == EXAMPLE
    assert bytes(h) == base64.urlsafe_b64decode(EXAMPLE.split(";")[1])


def test_text_form_uses_urlsafe_alphabet_with_padding():
    h = DestHash(bytes([0xFB, 0xFF] * 16))
    text = str(h)
    assert text.startswith("ni:///sha-256;")
    assert text.endswith("=")
    assert "-" in text or "_" in text
    assert "+" not in text
    assert "/" not in text.removeprefix("ni:///")


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_wrong_length_is_value_error(length):
    with pytest.raises(ValueError, match="32 bytes"):
        DestHash(b"x" * length)


@pytest.mark.parametrize(
    "text",
    [
        EXAMPLE,
        EXAMPLE.removeprefix("ni:///sha-256;"),
        "ni://example.com/sha-256;" + EXAMPLE.removeprefix("ni:///sha-256;"),
        EXAMPLE.removesuffix("="),  # unpadded, as RFC 6920 writes it
    ],
)
def test_parse_accepts_bare_prefixed_authority_and_unpadded(text):
    assert DestHash.parse(text) == DestHash.parse(EXAMPLE)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ni:///sha-256;",
        "ni:///sha-512;" + EXAMPLE.removeprefix("ni:///sha-256;"),
        "ni://a/b/sha-256;" + EXAMPLE.removeprefix("ni:///sha-256;"),
        # standard alphabet characters are refused
        base64.b64encode(bytes([0xFB, 0xFF] * 16)).decode(),
        EXAMPLE + "AAAA",  # 35 bytes
        EXAMPLE[:-5] + "=",  # too short
        " " + EXAMPLE,
    ],
)
def test_parse_rejects_bad_texts(text):
    with pytest.raises(ValueError, match="DestHash"):
        DestHash.parse(text)


def test_constructor_accepts_text_and_hashes():
    h = DestHash.parse(EXAMPLE)
    assert DestHash(EXAMPLE) == h
    assert DestHash(h) == h
    assert isinstance(CertHash(EXAMPLE), CertHash)
    with pytest.raises(ValueError, match="not a DestHash text"):
        DestHash("ni:///sha-256;+++")


def test_equality_and_hash():
    h = DestHash.parse(EXAMPLE)
    same = DestHash(bytes(h))
    assert h == same
    assert hash(h) == hash(same) == hash(EXAMPLE)
    assert h == EXAMPLE
    assert EXAMPLE == h  # noqa: SIM300 - the reflected comparison is the point
    assert h == EXAMPLE.removeprefix("ni:///sha-256;")
    assert h != "not a hash"
    assert h != DestHash(b"\0" * 32)
    # A bytes subclass, as in the original: equal to its digest as plain bytes, though
    # hashed as its text (so plain-bytes keys do not find it).
    assert isinstance(h, bytes)
    assert h == bytes(h)
    assert type(bytes(h)) is bytes
    assert type(h.digest) is bytes
    assert {h: 1}[EXAMPLE] == 1
    assert CertHash(bytes(h)) == h


def test_from_der_cert_is_from_der():
    der = b"0\x82 not really a certificate"
    assert CertHash.from_der_cert(der) == CertHash.from_der(der)


def test_immutable_and_picklable():
    h = DestHash.parse(EXAMPLE)
    with pytest.raises(AttributeError):
        h._digest = b"\0" * 32  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(h)) == h
    assert repr(h) == f"DestHash({EXAMPLE!r})"


@given(st.binary(min_size=32, max_size=32))
def test_round_trip_any_digest(raw):
    h = DestHash(raw)
    assert DestHash.parse(str(h)).digest == raw
    assert len(str(h)) == 58


def test_from_string_is_sha256_of_utf8():
    assert (
        bytes(DestHash.from_string("héllo"))
        == hashlib.sha256("héllo".encode()).digest()
    )


def test_from_unix_dest_info_replaces_colons():
    expected = hashlib.sha256(b"/run/a_b.sock:123:1000:100").digest()
    assert (
        bytes(DestHash.from_unix_dest_info("/run/a:b.sock", 123, 1000, 100)) == expected
    )
    assert DestHash.from_unix_dest_info(b"/run/a:b.sock", 123, 1000, 100) == DestHash(
        expected
    )
    # relative and absolute paths are different identities
    assert DestHash.from_unix_dest_info(
        "unix.sock", 1, 2, 3
    ) != DestHash.from_unix_dest_info("/tmp/unix.sock", 1, 2, 3)


def test_certhash_from_der_pem_and_file(tmp_path: Path):
    cert, key = make_cert("a")
    other, _ = make_cert("b")
    der = cert.public_bytes(serialization.Encoding.DER)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    expected = hashlib.sha256(der).digest()
    assert bytes(CertHash.from_der(der)) == expected
    assert CertHash.from_pem(pem) == CertHash.from_der(der)
    assert isinstance(CertHash.from_pem(pem.decode()), CertHash)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # key first, then the certificate we want, then a chain certificate
    path = tmp_path / "combined.pem"
    path.write_bytes(key_pem + pem + other.public_bytes(serialization.Encoding.PEM))
    assert certhash_from_file(path) == CertHash.from_der(der)


def test_certhash_from_file_without_certificate_names_the_file(tmp_path: Path):
    path = tmp_path / "empty.pem"
    path.write_text("nothing here\n")
    with pytest.raises(ValueError, match=r"empty\.pem"):
        certhash_from_file(path)


@given(st.text())
def test_parse_arbitrary_text_gives_a_hash_or_value_error(text):
    try:
        h = DestHash.parse(text)
    except ValueError:
        return
    assert len(bytes(h)) == 32
