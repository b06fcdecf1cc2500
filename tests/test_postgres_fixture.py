"""The shared PostgreSQL fixture isolates each test in its own schema."""

from __future__ import annotations

import pytest
import sqlalchemy as sa


@pytest.mark.postgres
def test_each_test_gets_its_own_schema(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        schema = conn.execute(sa.text("select current_schema()")).scalar_one()
        conn.execute(sa.text("create table probe (id integer primary key)"))
        conn.execute(sa.text("insert into probe values (1)"))
        assert conn.execute(sa.text("select count(*) from probe")).scalar_one() == 1
    engine.dispose()
    assert schema.startswith("t_")
