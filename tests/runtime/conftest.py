"""Fixtures for the runtime tests: a freshly minted PKI per session, async helpers.

``pki`` mints, with :mod:`entanglement.pki`, one site CA and node certificates
(``a``, ``b``, ``c``, ``d`` for ``127.0.0.1``), plus a second, untrusted CA with its own
node (``rogue``).  Other test packages can copy this fixture as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from entanglement._hashes import CertHash, certhash_from_file
from entanglement.pki import gen_site_ca, host_cert

NODES = ("a", "b", "c", "d")


@dataclass(frozen=True)
class Node:
    """A node's certificate files and identity."""

    cert: Path
    key: Path
    cafile: Path
    hash: CertHash


@dataclass(frozen=True)
class Pki:
    """The session's certificates."""

    directory: Path
    cafile: Path
    nodes: dict[str, Node]
    rogue: Node


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    site = tmp_path_factory.mktemp("pki")
    cafile = gen_site_ca(site, "Test Root CA")
    nodes = {}
    for name in NODES:
        cert, key = host_cert(site, "127.0.0.1", "/O=entanglegen tests", prefix=name)
        nodes[name] = Node(cert, key, cafile, certhash_from_file(cert))
    rogue_dir = tmp_path_factory.mktemp("rogue-pki")
    rogue_ca = gen_site_ca(rogue_dir, "Rogue CA")
    cert, key = host_cert(rogue_dir, "127.0.0.1", prefix="rogue")
    rogue = Node(cert, key, rogue_ca, certhash_from_file(cert))
    return Pki(site, cafile, nodes, rogue)
