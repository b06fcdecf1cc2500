"""A small site PKI for entanglement nodes, on ``cryptography`` (PROTOCOL.md §17).

``gen_site_ca`` creates a CA (``ca.key``, ``ca.pem``) in a directory and ``host_cert``
issues node certificates signed by it (``<prefix_><hostname>.key``/``.pem``), the file
layout of the original.  ``main(argv)`` is the ``entanglegen pki`` command.

Choices where the spec is silent or where we differ from the original:

* No ``openssl`` binary: everything is done in-process with ``cryptography``.
* Keys are ECDSA P-256 by default instead of RSA 2048.  Generating one takes well under a
  millisecond instead of tens to hundreds of milliseconds, which matters for test suites
  minting certificates, and every TLS 1.2/1.3 stack (including the original's OpenSSL)
  accepts them.  ``key_type="rsa"`` gives RSA 2048 keys for sites that want them.
* Certificates are valid for 400 days from one hour ago (clock skew).  Extensions:
  the CA gets ``basicConstraints=CA:TRUE`` (critical), ``keyUsage`` certificate/CRL
  signing, subject key identifier; node certificates get ``basicConstraints=CA:FALSE``,
  subject and authority key identifiers and ``subjectAltName=DNS:<hostname>``, plus
  ``IP:<address>`` when the hostname is an IP address and ``IP:127.0.0.1``/``IP:::1``
  for ``localhost``, so that hostname checking works for loopback tests.  Node
  certificates carry both ``serverAuth`` and ``clientAuth`` extended key usages, since
  every node is a TLS server and a TLS client (mutual authentication).
* Private keys are written unencrypted with mode 0600 (the original's openssl calls also
  wrote unencrypted keys).
* ``entanglegen pki`` uses subcommands (``init``, ``issue``, ``hash``) instead of the
  original's flag soup; ``--pki-dir`` defaults to ``./pki``.
* ``entanglegen pki issue`` refuses a directory without a CA (exit 2) unless ``--init``
  is given: a mistyped ``-d`` would otherwise mint a new CA whose certificates no peer
  trusts.  :func:`host_cert` (the library call, and the original's ``entanglement-pki``)
  still creates the CA on demand, as the original does.

The key, certificate and extension helpers live in :mod:`entanglement._x509`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from entanglement._hashes import certhash_from_file
from entanglement._x509 import (
    KeyType,
    base_builder,
    ca_key_usage,
    host_extensions,
    load_key,
    new_key,
    parse_subject,
    write_cert,
    write_key,
)

__all__ = ["cert_hash_text", "gen_site_ca", "host_cert", "main"]


def gen_site_ca(
    pki_dir: str | os.PathLike[str],
    ca_name: str = "Root CA",
    *,
    key_type: KeyType = "ec",
) -> Path:
    """Create the site CA in ``pki_dir`` unless it already exists.

    Args:
        pki_dir: directory to hold ``ca.key`` and ``ca.pem`` (created if missing).
        ca_name: common name of the CA certificate.
        key_type: ``"ec"`` (P-256, default) or ``"rsa"`` (2048 bits).

    Returns:
        The path of ``ca.pem``.
    """
    directory = Path(pki_dir)
    directory.mkdir(parents=True, exist_ok=True)
    key_path, cert_path = directory / "ca.key", directory / "ca.pem"
    if key_path.exists():
        key = load_key(key_path)
    else:
        key = new_key(key_type)
        write_key(key_path, key)
    if not cert_path.exists():
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
        builder = base_builder(name, name, key.public_key())
        builder = builder.add_extension(
            x509.BasicConstraints(ca=True, path_length=None), critical=True
        ).add_extension(ca_key_usage(), critical=True)
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
        write_cert(cert_path, builder.sign(key, hashes.SHA256()))
    return cert_path


def host_cert(
    pki_dir: str | os.PathLike[str],
    hostname: str,
    adl_subj: str = "",
    prefix: str = "",
    *,
    force: bool = False,
    key_type: KeyType = "ec",
    alt_names: Sequence[str] = (),
) -> tuple[Path, Path]:
    """Issue a node certificate signed by the site CA (created on demand).

    Args:
        pki_dir: the CA directory; the files go there too.
        hostname: common name and DNS subject alternative name.
        adl_subj: extra subject components before the CN, e.g. ``"/O=site/OU=nodes"``.
        prefix: file name prefix (``<prefix>_<hostname>.pem``).
        force: re-issue even if both files exist.
        key_type: ``"ec"`` (P-256, default) or ``"rsa"`` (2048 bits).
        alt_names: further subject alternative names, DNS names or IP addresses, for
            peers that reach this node by another name than ``hostname`` (outgoing
            connections check the host name, §5.1).

    Returns:
        ``(cert_path, key_path)``.

    Raises:
        ValueError: if ``adl_subj`` is malformed.
    """
    directory = Path(pki_dir)
    gen_site_ca(directory)
    stem = f"{prefix}_{hostname}" if prefix else hostname
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
    if not force and cert_path.exists() and key_path.exists():
        return cert_path, key_path
    subject = x509.Name(
        [*parse_subject(adl_subj), x509.NameAttribute(NameOID.COMMON_NAME, hostname)]
    )
    ca_key = load_key(directory / "ca.key")
    ca_cert = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
    key = new_key(key_type)
    builder = base_builder(subject, ca_cert.subject, key.public_key())
    for extension, critical in host_extensions(hostname, alt_names, key, ca_cert):
        builder = builder.add_extension(extension, critical=critical)
    write_key(key_path, key)
    write_cert(cert_path, builder.sign(ca_key, hashes.SHA256()))
    return cert_path, key_path


def cert_hash_text(path: str | os.PathLike[str]) -> str:
    """Return the CertHash text (``ni:///sha-256;...``) of a PEM certificate file."""
    return str(certhash_from_file(path))


def main(argv: list[str] | None = None) -> int:
    """Run ``entanglegen pki``; return the exit status.

    Args:
        argv: arguments after ``pki`` (defaults to ``sys.argv[1:]``).

    Returns:
        0 on success, 1 on an error (printed to stderr), 2 on a usage error.
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        return int(args.run(args))
    except (OSError, ValueError) as exc:
        print(f"entanglegen pki: error: {exc}", file=sys.stderr)
        return 1


# -- command line ------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-d", "--pki-dir", default="pki", help="CA directory (default: ./pki)"
    )
    common.add_argument(
        "--key-type",
        choices=["ec", "rsa"],
        default="ec",
        help="ec: ECDSA P-256 (default); rsa: RSA 2048 bits",
    )
    parser = argparse.ArgumentParser(
        prog="entanglegen pki",
        description="Manage the certificates of a site: one CA (ca.key, ca.pem) and a "
        "certificate per node, signed by it, in one directory.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    init = sub.add_parser(
        "init",
        parents=[common],
        help="create the site CA",
        description="Create the site CA in --pki-dir (kept if it exists).",
    )
    init.add_argument("--ca-name", default="Root CA", help="CN of the CA certificate")
    init.set_defaults(run=_cmd_init)
    issue = sub.add_parser(
        "issue",
        parents=[common],
        help="issue node certificates",
        description="Issue a certificate and key per host, signed by the CA of "
        "--pki-dir, and print their files and CertHash. The CA must exist (see "
        "'entanglegen pki init') unless --init is given.",
    )
    issue.add_argument(
        "hosts",
        nargs="+",
        metavar="HOST",
        help="host name or IP address the node is reached by (also its CN)",
    )
    issue.add_argument(
        "--init",
        action="store_true",
        help="create the CA first if the directory has none",
    )
    issue.add_argument("--subj", default="", help="extra subject, e.g. /O=site/OU=x")
    issue.add_argument(
        "--prefix", default="", help="file name prefix (PREFIX_HOST.pem, .key)"
    )
    issue.add_argument("--force", action="store_true", help="re-issue existing ones")
    issue.add_argument(
        "--san",
        action="append",
        default=[],
        metavar="NAME",
        help="extra DNS name or IP address the node is reached by (repeatable)",
    )
    issue.set_defaults(run=_cmd_issue)
    hash_ = sub.add_parser("hash", help="print the CertHash of PEM certificates")
    hash_.add_argument("files", nargs="+", metavar="FILE", help="a PEM certificate")
    hash_.set_defaults(run=_cmd_hash)
    return parser


def _cmd_init(args: argparse.Namespace) -> int:
    path = gen_site_ca(args.pki_dir, args.ca_name, key_type=args.key_type)
    print(f"CA certificate: {path}")
    return 0


def _cmd_issue(args: argparse.Namespace) -> int:
    directory = Path(args.pki_dir)
    missing = [n for n in ("ca.key", "ca.pem") if not (directory / n).is_file()]
    if missing and not args.init:
        print(
            f"entanglegen pki: error: no CA in {directory.as_posix()} "
            f"({' and '.join(missing)} missing); create it with 'entanglegen pki init "
            f"-d {directory.as_posix()}', or pass --init",
            file=sys.stderr,
        )
        return 2
    for host in args.hosts:
        cert, key = host_cert(
            args.pki_dir,
            host,
            args.subj,
            args.prefix,
            force=args.force,
            key_type=args.key_type,
            alt_names=args.san,
        )
        print(f"{host}: {cert} {key} {cert_hash_text(cert)}")
    return 0


def _cmd_hash(args: argparse.Namespace) -> int:
    status = 0
    for name in args.files:
        try:
            print(f"{name}: {cert_hash_text(name)}")
        except (OSError, ValueError) as exc:
            print(f"entanglegen pki: error: {name}: {exc}", file=sys.stderr)
            status = 1
    return status
