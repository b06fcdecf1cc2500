"""Typing probe: the typed declarative spelling the generator emits (mypy --strict)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any, assert_type

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Mapped, mapped_column

from entanglement.interface import no_sync_property
from entanglement.sql import (
    GUID,
    SqlSynchronizable,
    SqlSyncRegistry,
    SqlSyncSession,
    SyncOwner,
    sync_session_maker,
)


class MyRegistry(SqlSyncRegistry): ...


registry = MyRegistry()


class Base(SqlSynchronizable, DeclarativeBase):
    sync_registry = registry


class Team(Base):
    __tablename__ = "team"
    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(64))
    secret: Mapped[str | None] = no_sync_property(mapped_column(String, nullable=True))
    founded: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class Player(Base):
    __tablename__ = "player"
    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("team.id"))


def probe(team: Team, player: Player, session: SqlSyncSession, manager: Any) -> None:
    assert_type(Team.id, InstrumentedAttribute[uuid.UUID])
    assert_type(team.id, uuid.UUID)
    assert_type(team.name, str)
    assert_type(team.secret, str | None)
    assert_type(team.founded, dt.datetime | None)
    assert_type(team.sync_serial, int)
    assert_type(team.sync_owner_id, uuid.UUID | None)
    assert_type(team.sync_owner, SyncOwner | None)
    assert_type(player.team_id, uuid.UUID)
    assert_type(team.sync_create(manager, SyncOwner()), asyncio.Future[Any])
    assert_type(team.to_sync(), dict[str, Any])
    session.sync_commit()
    maker = sync_session_maker()
    assert_type(maker(), SqlSyncSession)
