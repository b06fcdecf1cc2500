"""Two versions of one schema, as the generator emits them (old and new ``Stroke``).

Each version has its own declarative base and registry, so an old and a new node can
live in one test process.  ``v2`` adds ``colour`` (a nullable ``String(7)``), lets
``name`` be longer (``String(8)`` → ``String(32)``: v1 must refuse a long name, not
truncate it) and renames ``label`` to ``caption`` (what ``renamed_from`` generates:
``aliases=("label",)``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from entanglement.interface import sync_property
from entanglement.sql import SqlSynchronizable, SqlSyncRegistry


class V1Base(SqlSynchronizable, DeclarativeBase):
    sync_registry = SqlSyncRegistry()


class V1Stroke(V1Base):
    __tablename__ = "strokes"
    sync_type = "Stroke"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(sa.String(8))
    width: Mapped[float] = mapped_column(sa.Float)
    label: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)


class V2Base(SqlSynchronizable, DeclarativeBase):
    sync_registry = SqlSyncRegistry()


class V2Stroke(V2Base):
    __tablename__ = "strokes"
    sync_type = "Stroke"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(sa.String(32))
    width: Mapped[float] = mapped_column(sa.Float)
    caption: Mapped[str | None] = sync_property(
        mapped_column(sa.String(40), nullable=True), aliases=("label",)
    )
    colour: Mapped[str | None] = mapped_column(sa.String(7), nullable=True)


class V1TolerantBase(SqlSynchronizable, DeclarativeBase):
    sync_registry = SqlSyncRegistry()


class V1TolerantStroke(V1TolerantBase):
    """v1 with the knob: rows of newer schemas are stored without what it lacks."""

    __tablename__ = "strokes"
    sync_type = "Stroke"
    sync_unknown_properties = "store_rest"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(sa.String(8))
    width: Mapped[float] = mapped_column(sa.Float)
    label: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)


UPGRADE_V1 = [  # what the migration v1 → v2 does (engineer B's generates it)
    "ALTER TABLE strokes ADD COLUMN colour VARCHAR(7)",
    "ALTER TABLE strokes RENAME COLUMN label TO caption",
]
UPGRADE_V1_POSTGRES = ["ALTER TABLE strokes ALTER COLUMN name TYPE VARCHAR(32)"]


def rows(engine: sa.Engine) -> dict[int, dict[str, Any]]:
    """id → every column of the strokes table (values and sync_serial)."""
    with engine.connect() as conn:
        table = sa.Table("strokes", sa.MetaData(), autoload_with=conn)
        return {
            row.id: dict(row._mapping)
            for row in conn.execute(sa.select(table).order_by(table.c.id))
        }
