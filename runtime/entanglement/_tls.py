"""TLS contexts and peer identities (PROTOCOL.md §1.2, §5.1).

Theory of operation
-------------------
Every node has one certificate and key; connections are mutually authenticated.

* The *client* context verifies the server against the configured CA file/directory,
  with hostname checking on (the name is the destination's ``server_hostname``, which
  defaults to its host), and presents our certificate.
* The *server* context uses the "client auth" purpose, asks for a client certificate
  (``CERT_OPTIONAL``: a client that presents an untrusted certificate fails the
  handshake; one that presents none passes it) and does not check hostnames.
* The identity of a peer is SHA-256 over the DER form of the leaf certificate it
  presented (:func:`peer_cert_hash`).  A client without a certificate has no identity:
  the original crashed there (quirk 12); we raise :class:`NoPeerCertificate`, and the
  server logs it and closes the connection.

The server performs the TLS handshake itself (``loop.start_tls`` on the accepted TCP
connection) rather than letting ``create_server(ssl=...)`` do it, so that a failed
handshake (untrusted certificate, garbage instead of TLS) reaches our code and is logged
with the peer's address instead of being swallowed at debug level inside asyncio.
"""

from __future__ import annotations

import os
import ssl
from typing import Any

from entanglement._exceptions import ConnectError
from entanglement._hashes import CertHash

__all__ = [
    "NoPeerCertificate",
    "client_context",
    "peer_cert_hash",
    "peer_der_cert",
    "server_context",
]

PathLike = str | os.PathLike[str]


class NoPeerCertificate(ConnectError):
    """The peer completed the TLS handshake without presenting a certificate."""


def client_context(
    cert: PathLike | None,
    key: PathLike | None = None,
    *,
    cafile: PathLike | None = None,
    capath: PathLike | None = None,
) -> ssl.SSLContext:
    """Return the context for outgoing connections (verify the server, hostname on).

    Args:
        cert: our certificate (PEM); None to present no certificate.
        key: our private key (PEM); None when it is inside ``cert``.
        cafile: CA certificates (PEM file).
        capath: directory of hashed CA certificates.

    Returns:
        A client-side context with verification required.
    """
    ctx = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=_opt(cafile), capath=_opt(capath)
    )
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    if cert is not None:
        ctx.load_cert_chain(os.fspath(cert), _opt(key))
    return ctx


def server_context(
    cert: PathLike,
    key: PathLike | None = None,
    *,
    cafile: PathLike | None = None,
    capath: PathLike | None = None,
) -> ssl.SSLContext:
    """Return the context for accepted connections (client certificate optional).

    Args:
        cert: our certificate (PEM).
        key: our private key (PEM); None when it is inside ``cert``.
        cafile: CA certificates used to verify clients.
        capath: directory of hashed CA certificates.

    Returns:
        A server-side context with ``CERT_OPTIONAL`` and no hostname check.
    """
    ctx = ssl.create_default_context(
        ssl.Purpose.CLIENT_AUTH, cafile=_opt(cafile), capath=_opt(capath)
    )
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.load_cert_chain(os.fspath(cert), _opt(key))
    return ctx


def peer_der_cert(transport: Any) -> bytes | None:
    """Return the DER leaf certificate the peer presented, or None."""
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return bytes(der) if der else None


def peer_cert_hash(transport: Any) -> tuple[CertHash, bytes]:
    """Return the peer's identity and DER certificate.

    Raises:
        NoPeerCertificate: the peer presented no certificate.
    """
    der = peer_der_cert(transport)
    if der is None:
        raise NoPeerCertificate("peer presented no TLS certificate")
    return CertHash.from_der(der), der


def _opt(path: PathLike | None) -> str | None:
    return None if path is None else os.fspath(path)
