"""The application of the ``entanglegen node`` tests: ``--base node_app.Base``."""

from __future__ import annotations

import uuid

from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from entanglement.sql import GUID, SqlSynchronizable, SqlSyncRegistry


class AppRegistry(SqlSyncRegistry): ...


registry = AppRegistry()


class Base(SqlSynchronizable, DeclarativeBase):
    sync_registry = registry


class Item(Base):
    __tablename__ = "item"
    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    label: Mapped[str] = mapped_column(String(100))
