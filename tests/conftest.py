"""Fixtures shared by every test package.

* ``--update-goldens`` rewrites golden files instead of comparing against them.
* ``postgres_url`` gives each test its own PostgreSQL schema on the local server
  (127.0.0.1:5432, database ``test``, trust auth).  Where no server answers the test is
  skipped with the reason, unless ``ENTANGLEGEN_REQUIRE_POSTGRES=1`` (set by ``.ci/run``),
  in which case it fails: on CI the PostgreSQL tests must run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

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
        import sqlalchemy as sa

        engine = sa.create_engine(POSTGRES_BASE_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:  # any failure means "no usable server"
        return f"no PostgreSQL answers at {POSTGRES_BASE_URL}: {type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def postgres_available() -> str:
    reason = _postgres_unavailable_reason()
    if reason is not None:
        if os.environ.get("ENTANGLEGEN_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here (ENTANGLEGEN_REQUIRE_POSTGRES=1): {reason}")
        pytest.skip(reason)
    return POSTGRES_BASE_URL


@pytest.fixture
def postgres_url(postgres_available: str) -> Iterator[str]:
    """A URL whose connections live in a fresh schema, dropped after the test."""
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(postgres_available, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    sep = "&" if "?" in postgres_available else "?"
    try:
        yield f"{postgres_available}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop schema "{schema}" cascade'))
        admin.dispose()
