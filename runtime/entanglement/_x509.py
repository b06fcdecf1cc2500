"""Keys, certificates and their X.509 parts for the site PKI (:mod:`entanglement.pki`).

The choices (ECDSA P-256 keys by default, 400 days of validity from an hour ago, the
extensions of CA and node certificates, keys written unencrypted with mode 0600) are
stated in :mod:`entanglement.pki`, which issues certificates with these helpers.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "KeyType",
    "PrivateKey",
    "base_builder",
    "ca_key_usage",
    "host_extensions",
    "load_key",
    "new_key",
    "parse_subject",
    "write_cert",
    "write_key",
]

KeyType = Literal["ec", "rsa"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
VALIDITY = datetime.timedelta(days=400)

_SUBJECT_KEYS = {
    "C": NameOID.COUNTRY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "L": NameOID.LOCALITY_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "CN": NameOID.COMMON_NAME,
    "emailAddress": NameOID.EMAIL_ADDRESS,
}


def new_key(key_type: KeyType) -> PrivateKey:
    """A new private key: ECDSA P-256, or RSA 2048 bits for ``"rsa"``."""
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def load_key(path: Path) -> PrivateKey:
    """The unencrypted PEM private key at ``path``."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError(f"{path}: unsupported key type {type(key).__name__}")
    return key


def write_key(path: Path, key: PrivateKey) -> None:
    """Write ``key`` as unencrypted PKCS#8 PEM, readable by its owner only."""
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def write_cert(path: Path, cert: x509.Certificate) -> None:
    """Write ``cert`` as PEM."""
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def base_builder(
    subject: x509.Name, issuer: x509.Name, public_key: object
) -> x509.CertificateBuilder:
    """A certificate builder with the names, key, serial and validity set."""
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + VALIDITY)
    )


def ca_key_usage() -> x509.KeyUsage:
    """The CA's key usages: certificate and CRL signing, signatures."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def host_extensions(
    hostname: str,
    alt_names: Sequence[str],
    key: PrivateKey,
    ca_cert: x509.Certificate,
) -> list[tuple[x509.ExtensionType, bool]]:
    """The extensions of a node certificate, each with its criticality."""
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    return [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
        (
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                ca_ski.value
            ),
            False,
        ),
        (x509.SubjectAlternativeName(_alt_names(hostname, alt_names)), False),
        (
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            False,
        ),
    ]


def _alt_names(hostname: str, extra: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for name in [hostname, *extra]:
        for general in _general_names(name):
            if general not in names:
                names.append(general)
    return names


def _general_names(name: str) -> list[x509.GeneralName]:
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        if name == "localhost":
            loopback = [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]
            return [x509.DNSName(name), *map(x509.IPAddress, loopback)]
        return [x509.DNSName(name)]
    # Keep the DNS form too: the original puts the host name as DNS:<hostname>.
    return [x509.DNSName(name), x509.IPAddress(address)]


def parse_subject(text: str) -> list[x509.NameAttribute[str]]:
    """The name attributes of ``"/KEY=value/..."``; ValueError if malformed."""
    attributes: list[x509.NameAttribute[str]] = []
    for part in filter(None, text.split("/")):
        key, sep, value = part.partition("=")
        if not sep or key not in _SUBJECT_KEYS or not value:
            known = ", ".join(_SUBJECT_KEYS)
            raise ValueError(
                f"bad subject component {part!r} in {text!r} (want KEY=value, KEY"
                f" one of {known})"
            )
        attributes.append(x509.NameAttribute(_SUBJECT_KEYS[key], value))
    return attributes
