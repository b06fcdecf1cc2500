"""The original's command names: ``entanglement-pki`` (§17.2) and ``entanglement-cli`` (§17.3).

Both take the original's options and run the same code as ``entanglegen pki`` and
``entanglegen node``, so scripts and deployment recipes written for the original keep
working; new work should use the ``entanglegen`` commands.

``entanglement-pki [-d DIR] [--ca-name NAME] [--force] [--subj S] [--prefix P]
[--hash FILE ...] [HOST ...]`` creates the CA when missing (named by ``--ca-name``), issues
a certificate per host and prints the CertHash text of each ``--hash`` file.

``entanglement-cli --db URI [--base module.Name ...] MODE ...`` with exactly one of
``--add-destination``, ``--remove-destination``, ``--list-destinations``, ``--server``.

Choices where the original differs or the specification leaves room:

* ``--pki-dir`` keeps the original's default ``/etc/photon/pki``.  Keys follow
  ``entanglegen pki`` (ECDSA P-256, see :mod:`entanglement.pki`).  As in the original,
  ``entanglement-pki HOST`` creates the CA when the directory has none (scripts rely
  on it); ``entanglegen pki issue`` refuses that unless ``--init`` is given.
* ``--server`` listens on every address (``0.0.0.0``) at ``--port`` (default 9120) and runs
  the node's working monitor loop (quirk 49's broken 3-second loop is not reproduced).
* ``--reflect`` (legacy automap, §12.10) is refused with a one-line error: it never worked
  with current dependencies (§20) and would alter the user's tables.
* ``--bw-per-sec`` is accepted and unused, as in the original; ``--sql-verbose`` and
  ``--protocol-verbose`` turn on the SQLAlchemy engine log and the protocol debug log.
* Errors are one line on stderr with exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from entanglement import node, pki

__all__ = ["cli_main", "pki_main"]

DEFAULT_PKI_DIR = "/etc/photon/pki"


def _pki_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="entanglement-pki",
        description="Create a site CA and issue node certificates (as entanglegen pki).",
    )
    parser.add_argument(
        "-d", "--pki-dir", default=DEFAULT_PKI_DIR, help=f"default {DEFAULT_PKI_DIR}"
    )
    parser.add_argument("--ca-name", help="create the CA with this common name")
    parser.add_argument("hosts", nargs="*", metavar="HOST", help="issue certificates")
    parser.add_argument("--force", action="store_true", help="re-issue existing ones")
    parser.add_argument("--subj", default="", help="extra subject prefix, e.g. /OU=x")
    parser.add_argument("--prefix", default="", help="file name prefix")
    parser.add_argument(
        "--hash", nargs="+", default=[], metavar="FILE", help="print CertHash texts"
    )
    return parser


def pki_main(argv: Sequence[str] | None = None) -> int:
    """Run ``entanglement-pki``; returns the exit status."""
    args = _pki_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.ca_name is not None or args.hosts:
            pki.gen_site_ca(args.pki_dir, args.ca_name or "Root CA")
        for host in args.hosts:
            cert, _key = pki.host_cert(
                args.pki_dir, host, args.subj, args.prefix, force=args.force
            )
            print(f"{host}: {cert} {pki.cert_hash_text(cert)}")
        for name in args.hash:
            print(f"{name}: {pki.cert_hash_text(name)}")
    except (OSError, ValueError) as exc:
        print(f"entanglement-pki: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _cli_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="entanglement-cli",
        description="Manage a node's destinations or run it (as entanglegen node).",
    )
    parser.add_argument("--db", required=True, metavar="URI", help="database URL")
    parser.add_argument(
        "--base", nargs="+", action="extend", default=[], metavar="module.Name"
    )
    parser.add_argument("--reflect", action="store_true", help=argparse.SUPPRESS)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--add-destination", action="store_true")
    mode.add_argument("--remove-destination", action="store_true")
    mode.add_argument("--list-destinations", action="store_true")
    mode.add_argument("--server", action="store_true")
    parser.add_argument("--ca", help="CA certificates that sign peers (PEM)")
    parser.add_argument("--cert", help="this node's certificate (PEM)")
    parser.add_argument("--key", help="its private key (PEM)")
    parser.add_argument(
        "--cert-hash",
        "--dest-hash",
        "--dest_hash",
        "--cert_hash",
        dest="cert_hash",
        help="the peer's CertHash text",
    )
    parser.add_argument("--host", help="where the destination is reached")
    parser.add_argument("--port", type=int, default=node.DEFAULT_PORT)
    parser.add_argument("--bw-per-sec", type=int, help="accepted, unused")
    parser.add_argument("--sql-verbose", action="store_true")
    parser.add_argument("--protocol-verbose", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    return parser


def _node_argv(args: argparse.Namespace) -> list[str]:
    """The ``entanglegen node`` command line the original's options mean."""
    argv = ["--db", args.db]
    for base in args.base:
        argv += ["--base", base]
    if args.verbose or args.protocol_verbose:
        argv.append("--verbose")
    if args.list_destinations:
        return [*argv, "list"]
    if (args.add_destination or args.remove_destination) and not args.cert_hash:
        raise ValueError("--cert-hash is required to add or remove a destination")
    if args.remove_destination:
        return [*argv, "remove", "--hash", args.cert_hash]
    if args.add_destination:
        argv += ["add", "--hash", args.cert_hash]
        if args.host:
            argv += ["--host", args.host, "--port", str(args.port)]
        return argv
    missing = [name for name in ("cert", "key", "ca") if not getattr(args, name)]
    if missing:
        raise ValueError("--server requires " + ", ".join(f"--{m}" for m in missing))
    return [
        *argv,
        "serve",
        "--cert",
        args.cert,
        "--key",
        args.key,
        "--ca",
        args.ca,
        "--listen",
        f"0.0.0.0:{args.port}",
        "--port",
        str(args.port),
    ]


def cli_main(argv: Sequence[str] | None = None) -> int:
    """Run ``entanglement-cli``; returns the exit status."""
    args = _cli_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.reflect:
        print(
            "entanglement-cli: error: --reflect (legacy automap) is not supported; "
            "generate models with 'entanglegen build' instead",
            file=sys.stderr,
        )
        return 2
    try:
        node_argv = _node_argv(args)
    except ValueError as exc:
        print(f"entanglement-cli: error: {exc}", file=sys.stderr)
        return 2
    if args.sql_verbose:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    return node.main(node_argv)
