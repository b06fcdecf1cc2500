"""The application of the fault-injection tests: ``--base faults_app.Base``.

One synchronised table whose columns cover the value kinds a row comparison must see
change: text, an integer, a float, a nullable text and a boolean.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Boolean, Float, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from entanglement.sql import GUID, SqlSynchronizable, SqlSyncRegistry


class FaultsRegistry(SqlSyncRegistry): ...


registry = FaultsRegistry()


class Base(SqlSynchronizable, DeclarativeBase):
    sync_registry = registry


class Item(Base):
    __tablename__ = "fault_item"
    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    label: Mapped[str] = mapped_column(String(100))
    count: Mapped[int] = mapped_column(Integer, default=0)
    weight: Mapped[float] = mapped_column(Float, default=0.0)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
