"""Fixtures of the generator tests.

* generated/ is put on ``sys.path`` so the committed packages import as users import them.
* ``pki``: certificates minted once per session with :mod:`entanglement.pki` (the runtime
  tests' fixture, copied as its docstring invites): a site CA and nodes ``a``..``c``.
* ``db_factory``: per-node database URLs on the parametrised backend: a real SQLite file,
  or a fresh PostgreSQL schema per node (``postgres`` cases need the server).
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

GENERATED = Path(__file__).resolve().parents[2] / "generated"
if str(GENERATED) not in sys.path:
    sys.path.insert(0, str(GENERATED))

from entanglement._hashes import CertHash, certhash_from_file  # noqa: E402
from entanglement.pki import gen_site_ca, host_cert  # noqa: E402


@dataclass(frozen=True)
class Node:
    """A node's certificate files and identity."""

    cert: Path
    key: Path
    cafile: Path
    hash: CertHash


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Node]:
    site = tmp_path_factory.mktemp("genpki")
    cafile = gen_site_ca(site, "Generator Test Root CA")
    nodes = {}
    for name in ("a", "b", "c"):
        cert, key = host_cert(
            site, "127.0.0.1", "/O=entanglegen generator tests", prefix=name
        )
        nodes[name] = Node(cert, key, cafile, certhash_from_file(cert))
    return nodes


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[str], str]]:
    """Per-node database URLs on the parametrised backend."""
    if request.param == "sqlite":
        yield lambda name: f"sqlite:///{tmp_path / f'{name}.sqlite'}"
        return
    base: str = request.getfixturevalue("postgres_available")
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    schemas: dict[str, str] = {}

    def url(name: str) -> str:
        if name not in schemas:
            schema = f"g_{uuid.uuid4().hex[:12]}_{name}"
            with admin.connect() as conn:
                conn.execute(sa.text(f'create schema "{schema}"'))
            schemas[name] = schema
        sep = "&" if "?" in base else "?"
        return f"{base}{sep}options=-csearch_path%3D{schemas[name]}"

    try:
        yield url
    finally:
        with admin.connect() as conn:
            for schema in schemas.values():
                conn.execute(sa.text(f'drop schema "{schema}" cascade'))
        admin.dispose()
