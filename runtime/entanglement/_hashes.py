"""Peer identities: :class:`DestHash` and :class:`CertHash` (PROTOCOL.md §1).

A DestHash is exactly 32 bytes (a SHA-256 digest).  Its text form is
``ni:///sha-256;`` followed by the URL-safe base64 of the bytes *with* ``=`` padding
(58 characters in all), which is what the original emits and what appears inside error
texts, the CLI and databases.

Choices where the spec is silent:

* DestHash is a ``bytes`` subclass, as in the original: code written for it passes a hash
  wherever bytes go (``hashlib``, ``LargeBinary`` columns, ``isinstance(h, bytes)``).  It
  compares equal to plain bytes holding the same digest, but its Python hash is that of
  the text form (§1.5), so a dictionary keyed by plain bytes does not find a DestHash
  key: key dictionaries by DestHash (or by its text).  ``bytes(h)`` and
  :attr:`DestHash.digest` give the raw digest as plain bytes.
* Parsing accepts the 43-character unpadded base64 as well (RFC 6920 omits padding); the
  text we produce is always padded.
* Equality with a string holds when the string parses to the same bytes; as in the
  original, ``hash(h) == hash(str(h))``, so only the canonical text form is
  interchangeable with a DestHash as a dictionary key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

__all__ = ["CertHash", "DestHash", "certhash_from_file"]

DIGEST_SIZE: Final = 32
TEXT_PREFIX: Final = "ni:///sha-256;"

# Optional "ni://<authority>/sha-256;" prefix, then only the URL-safe alphabet and padding.
_TEXT_RE: Final = re.compile(r"(?:ni://[^/]*/sha-256;)?(?P<b64>[-A-Za-z0-9_=]+)")


class DestHash(bytes):
    """The 32-byte identity of a peer (SHA-256 digest).

    Args:
        digest: exactly 32 bytes, or a hash text (parsed as by :meth:`parse`).

    Raises:
        ValueError: if ``digest`` is not exactly 32 bytes long, or not a hash text.
    """

    _text: str

    def __new__(
        cls, digest: bytes | bytearray | memoryview | str | DestHash
    ) -> DestHash:
        raw = _parse_digest(digest) if isinstance(digest, str) else bytes(digest)
        if len(raw) != DIGEST_SIZE:
            raise ValueError(
                f"a DestHash is exactly {DIGEST_SIZE} bytes, got {len(raw)} bytes"
            )
        self = super().__new__(cls, raw)
        text = TEXT_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii")
        # Kept once: the text is the hash key of every connection and owner lookup.
        object.__setattr__(self, "_text", text)
        return self

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    @property
    def digest(self) -> bytes:
        """The raw 32 bytes (plain bytes)."""
        return bytes(memoryview(self))

    def __bytes__(self) -> bytes:
        return bytes(memoryview(self))

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._text!r})"

    def __hash__(self) -> int:
        return hash(self._text)

    def __eq__(self, other: object) -> bool:
        if other is self:  # owners usually share their neighbour's hash object
            return True
        if isinstance(other, bytes):  # a DestHash, or plain bytes
            return bytes.__eq__(self, other)
        if isinstance(other, str):
            try:
                return bytes.__eq__(self, _parse_digest(other))
            except ValueError:
                return False
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __reduce__(self) -> tuple[type[DestHash], tuple[bytes]]:
        return (type(self), (bytes(self),))

    def sync_encode_value(self) -> str:
        """Return the wire form of this hash as a sync-property value (the text form)."""
        return self._text

    @classmethod
    def parse(cls, text: str) -> DestHash:
        """Parse the text form (bare base64 or ``ni://[authority]/sha-256;`` prefixed).

        Args:
            text: the text to parse.

        Returns:
            The parsed hash (an instance of ``cls``).

        Raises:
            ValueError: if the text is not a valid hash text.
        """
        return cls(_parse_digest(text))

    @classmethod
    def from_string(cls, s: str) -> DestHash:
        """Return the SHA-256 of the UTF-8 encoding of ``s`` (not a parser: see parse)."""
        return cls(hashlib.sha256(s.encode("utf-8")).digest())

    @classmethod
    def from_unix_dest_info(
        cls, path: str | bytes, pid: int, uid: int, gid: int
    ) -> DestHash:
        """Return the identity of a unix-socket peer (PROTOCOL.md §1.3).

        Args:
            path: the local socket name (the path the server bound, exactly as given).
            pid: peer process id from ``SO_PEERCRED``.
            uid: peer user id.
            gid: peer group id.

        Returns:
            SHA-256 of ``"{path}:{pid}:{uid}:{gid}"`` with ``:`` in path replaced by ``_``.
        """
        text_path = os.fsdecode(path).replace(":", "_")
        return cls.from_string(f"{text_path}:{int(pid)}:{int(uid)}:{int(gid)}")


class CertHash(DestHash):
    """A DestHash computed from a certificate: SHA-256 over its DER encoding."""

    @classmethod
    def from_der(cls, der: bytes) -> CertHash:
        """Hash the DER bytes of a certificate exactly as given (the TLS peer form).

        Args:
            der: DER-encoded leaf certificate.

        Returns:
            The certificate's identity.
        """
        return cls(hashlib.sha256(bytes(der)).digest())

    @classmethod
    def from_der_cert(cls, der: bytes) -> CertHash:
        """The original's name for :meth:`from_der`."""
        return cls.from_der(der)

    @classmethod
    def from_pem(cls, pem: bytes | str) -> CertHash:
        """Hash the first certificate found in PEM data (re-serialised as DER).

        Args:
            pem: PEM text; other blocks (keys, further certificates) are ignored.

        Returns:
            The identity of the first certificate.

        Raises:
            ValueError: if the data holds no parseable PEM certificate.
        """
        data = pem.encode("ascii") if isinstance(pem, str) else bytes(pem)
        try:
            certs = x509.load_pem_x509_certificates(data)
        except ValueError as exc:
            raise ValueError(f"no PEM certificate could be read: {exc}") from exc
        return cls.from_der(certs[0].public_bytes(Encoding.DER))


def certhash_from_file(path: str | os.PathLike[str]) -> CertHash:
    """Return the CertHash of the first PEM certificate in a file.

    Args:
        path: a PEM file (it may also hold a key or a chain).

    Returns:
        The identity of the file's first certificate.

    Raises:
        OSError: if the file cannot be read.
        ValueError: if the file holds no PEM certificate (the message names the file).
    """
    data = Path(path).read_bytes()
    try:
        return CertHash.from_pem(data)
    except ValueError as exc:
        raise ValueError(f"{os.fspath(path)}: {exc}") from exc


def _parse_digest(text: str) -> bytes:
    match = _TEXT_RE.fullmatch(text)
    if match is None:
        raise ValueError(
            f"not a DestHash text (ni:///sha-256;<urlsafe base64>): {text!r}"
        )
    b64 = match["b64"]
    if len(b64) == 43:
        b64 += "="
    try:
        raw = base64.b64decode(b64, altchars=b"-_", validate=True)
    except binascii.Error as exc:
        raise ValueError(f"bad base64 in DestHash text {text!r}: {exc}") from exc
    if len(raw) != DIGEST_SIZE:
        raise ValueError(
            f"DestHash text {text!r} decodes to {len(raw)} bytes, not {DIGEST_SIZE}"
        )
    return raw
