"""Fixtures of the SQL-layer tests.

* ``db_url`` / ``engine``: an empty database: a real SQLite file, or a fresh PostgreSQL
  schema (``postgres`` cases are marked and need the server).
* ``db_factory``: the same for several nodes of one test: ``db_factory("a")`` gives node
  a's URL (one SQLite file or one PostgreSQL schema per name).
* ``pki``: certificates minted once per session with :mod:`entanglement.pki` (a copy of
  the runtime tests' fixture: site CA, nodes ``a``..``d`` for 127.0.0.1).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

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


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Node]:
    site = tmp_path_factory.mktemp("sqlpki")
    cafile = gen_site_ca(site, "SQL Test Root CA")
    nodes = {}
    for name in NODES:
        cert, key = host_cert(
            site, "127.0.0.1", "/O=entanglegen sql tests", prefix=name
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
            schema = f"t_{uuid.uuid4().hex[:12]}_{name}"
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


@pytest.fixture
def db_url(db_factory: Callable[[str], str]) -> str:
    """A URL of an empty database: a real SQLite file, or a fresh PostgreSQL schema."""
    return db_factory("db")


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(db_url)
    try:
        yield eng
    finally:
        eng.dispose()
