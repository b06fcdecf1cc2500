"""Fixtures shared by every test package.

* ``--update-goldens`` rewrites golden files instead of comparing against them.
* ``postgres_url`` gives each test its own PostgreSQL schema on the local server
  (127.0.0.1:5432, database ``test``, trust auth).  Where no server answers the test is
  skipped with the reason, unless ``ENTANGLEGEN_REQUIRE_POSTGRES=1`` (set by ``.ci/run``),
  in which case it fails: on CI the PostgreSQL tests must run.
* ``db_factory`` gives per-node database URLs on a parametrised backend: a real SQLite
  file, or a fresh PostgreSQL schema per node name (``postgres`` cases are marked);
  ``db_url``/``engine`` are one such database.
* ``pki``: certificates minted once per session with :mod:`entanglement.pki`: a site CA
  and nodes ``a``..``d`` for 127.0.0.1.  tests/runtime overrides it with a richer object
  (it also needs an untrusted CA).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from entanglement._hashes import CertHash, certhash_from_file
from entanglement.pki import gen_site_ca, host_cert

POSTGRES_BASE_URL = os.environ.get(
    "ENTANGLEGEN_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="rewrite golden files (tests/cases/*/expected, generated/) instead of comparing",
    )


@pytest.fixture(scope="session")
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


def _postgres_unavailable_reason() -> str | None:
    try:
        engine = sa.create_engine(
            POSTGRES_BASE_URL, connect_args={"connect_timeout": 3}
        )
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:  # any failure means "no usable server"
        return (
            f"no PostgreSQL answers at {POSTGRES_BASE_URL}: {type(exc).__name__}: {exc}"
        )
    return None


@pytest.fixture(scope="session")
def postgres_available() -> str:
    reason = _postgres_unavailable_reason()
    if reason is not None:
        if os.environ.get("ENTANGLEGEN_REQUIRE_POSTGRES") == "1":
            pytest.fail(
                f"PostgreSQL is required here (ENTANGLEGEN_REQUIRE_POSTGRES=1): {reason}"
            )
        pytest.skip(reason)
    return POSTGRES_BASE_URL


class _Schemas:
    """Creates PostgreSQL schemas on demand and drops them all at the end."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def url(self, label: str = "") -> str:
        schema = f"t_{uuid.uuid4().hex[:12]}{'_' + label if label else ''}"
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'create schema "{schema}"'))
        self.created.append(schema)
        sep = "&" if "?" in self.base_url else "?"
        return f"{self.base_url}{sep}options=-csearch_path%3D{schema}"

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for schema in self.created:
                conn.execute(sa.text(f'drop schema "{schema}" cascade'))
        self.admin.dispose()


@pytest.fixture
def postgres_url(postgres_available: str) -> Iterator[str]:
    """A URL whose connections live in a fresh schema, dropped after the test."""
    schemas = _Schemas(postgres_available)
    try:
        yield schemas.url()
    finally:
        schemas.drop_all()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[str], str]]:
    """Per-node database URLs on the parametrised backend, one database per name."""
    if request.param == "sqlite":
        yield lambda name: f"sqlite:///{tmp_path / f'{name}.sqlite'}"
        return
    schemas = _Schemas(request.getfixturevalue("postgres_available"))
    urls: dict[str, str] = {}

    def url(name: str) -> str:
        if name not in urls:
            urls[name] = schemas.url(name)
        return urls[name]

    try:
        yield url
    finally:
        schemas.drop_all()


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


@dataclass(frozen=True)
class Node:
    """A node's certificate files and identity."""

    cert: Path
    key: Path
    cafile: Path
    hash: CertHash


def mint_nodes(site: Path, ca_name: str, names: tuple[str, ...]) -> dict[str, Node]:
    """A site CA in ``site`` and one certificate per node name, all for 127.0.0.1."""
    cafile = gen_site_ca(site, ca_name)
    nodes = {}
    for name in names:
        cert, key = host_cert(site, "127.0.0.1", "/O=entanglegen tests", prefix=name)
        nodes[name] = Node(cert, key, cafile, certhash_from_file(cert))
    return nodes


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Node]:
    return mint_nodes(
        tmp_path_factory.mktemp("pki"), "Test Root CA", ("a", "b", "c", "d")
    )
