"""Models and a node harness for the SQL tests.

The models use the typed spelling the generator emits (``class Base(SqlSynchronizable,
DeclarativeBase)``).  Each node of a test has its own database and its own registry
(every model class registered in it, as an application with one registry per manager
would), so several nodes can live in one process.  :class:`CountingRegistry` records
what it received, which lets tests assert how many objects travelled.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from entanglement.interface import no_sync_property
from entanglement.network import SyncServer
from entanglement.sql import (
    GUID,
    SqlSyncDestination,
    SqlSynchronizable,
    SqlSyncRegistry,
    SqlSyncSession,
    SyncOwner,
    sync_manager_destinations,
)

SqlSyncDestination.you_have_timeout = 0.0


class CountingRegistry(SqlSyncRegistry):
    """A SqlSyncRegistry that remembers (operation, sync_type) of what it received."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.received: list[tuple[str, str]] = []

    def sync_receive(self, obj: Any, operation: Any, **info: Any) -> Any:
        result = super().sync_receive(obj, operation, **info)
        self.received.append((str(operation), obj.sync_type))
        return result

    def count(self, operation: str, sync_type: str = "Team") -> int:
        return sum(1 for op, t in self.received if op == operation and t == sync_type)


model_registry = CountingRegistry()


class Base(SqlSynchronizable, DeclarativeBase):
    sync_registry = model_registry


class Team(Base):
    __tablename__ = "team"
    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    motto: Mapped[str | None] = mapped_column(String(200), nullable=True)
    secret: Mapped[str | None] = no_sync_property(mapped_column(String, nullable=True))


class Player(Base):
    __tablename__ = "player"
    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("team.id"))
    name: Mapped[str] = mapped_column(String(64))


MODELS: tuple[type[Any], ...] = (Team, Player)


def run(coro: Coroutine[Any, Any, Any], timeout: float = 30.0) -> Any:
    """Run a scenario in a fresh event loop, failing instead of hanging."""

    async def bounded() -> Any:
        async with asyncio.timeout(timeout):
            return await coro

    return asyncio.run(bounded())


async def wait_until(predicate: Callable[[], bool], interval: float = 0.01) -> None:
    """Poll a database-backed condition (the scenario timeout bounds it)."""
    while not predicate():  # noqa: ASYNC110 - the database signals nothing
        await asyncio.sleep(interval)


@dataclass
class SqlNode:
    """One node: a database, a registry over it and a TLS SyncServer.

    ``models`` are the classes its registry holds (the Team/Player models by default).
    """

    name: str
    url: str
    pki_node: Any
    models: tuple[type[Any], ...] = MODELS
    engine: sa.Engine = field(init=False)
    registry: CountingRegistry = field(init=False)
    manager: Any = None
    port: int = 0

    def __post_init__(self) -> None:
        self.engine = sa.create_engine(self.url)
        SqlSyncRegistry.create_bookkeeping(self.engine)
        for metadata in {cls.metadata for cls in self.models}:
            metadata.create_all(self.engine)
        self.registry = CountingRegistry(bind=self.engine)
        for cls in self.models:
            self.registry.register_syncable(cls.sync_type, cls)

    @property
    def hash(self) -> Any:
        return self.pki_node.hash

    async def start(self, port: int = 0) -> SqlNode:
        """Start the manager and listen on 127.0.0.1 (a given port, or a free one)."""
        node = self.pki_node
        self.manager = SyncServer(
            node.cert, 0, key=node.key, cafile=node.cafile, registries=[self.registry]
        )
        self.manager.initial_backoff = 0.05
        server = await self.manager.listen_ssl(port, "127.0.0.1")
        self.port = int(server.sockets[0].getsockname()[1])
        sync_manager_destinations(self.manager)
        return self

    async def stop(self) -> None:
        """Close the manager (the database stays)."""
        if self.manager is not None:
            await self.manager.aclose()
            self.manager.session.close()
            self.manager = None

    def dispose(self) -> None:
        self.engine.dispose()

    def session(self) -> SqlSyncSession:
        """An application session flooding through this node's manager."""
        session: SqlSyncSession = self.registry.sessionmaker(manager=self.manager)
        return session

    def plain(self) -> sa.orm.Session:
        return sa.orm.Session(self.engine)

    def add_destination(self, other: SqlNode, *, connect: bool) -> None:
        """Store a destination row for ``other`` (with its port) and load it."""
        with self.plain() as session:
            host, port = ("127.0.0.1", other.port) if connect else (None, None)
            session.add(
                SqlSyncDestination(other.hash, other.name, host=host, port=port)
            )
            session.commit()
        if self.manager is not None:
            sync_manager_destinations(self.manager)

    def teams(self) -> dict[str, str | None]:
        """name → motto of every team in the database."""
        with self.plain() as session:
            return {t.name: t.motto for t in session.scalars(sa.select(Team))}

    def owner_ids(self) -> set[uuid.UUID]:
        with self.plain() as session:
            return set(session.scalars(sa.select(SyncOwner.id)))

    def local_owner(self) -> SyncOwner:
        with self.plain() as session:
            owner = session.scalars(
                sa.select(SyncOwner).where(SyncOwner.dest_hash.is_(None))
            ).first()
            assert owner is not None
            session.expunge(owner)
            return owner

    def live(self, other: SqlNode) -> bool:
        return self.manager is not None and any(
            p.dest.dest_hash == other.hash for p in self.manager.connections
        )


def add_teams(node: SqlNode, *names: str) -> None:
    """Commit teams through a managed session of ``node``."""
    with node.session() as session:
        for name in names:
            session.add(Team(name=name, motto=f"{name}!"))
        session.commit()


async def connected(a: SqlNode, b: SqlNode) -> None:
    """a connects out to b; wait until both see the connection live."""
    b.add_destination(a, connect=False)
    a.add_destination(b, connect=True)
    await wait_until(lambda: a.live(b) and b.live(a))


async def pair(
    pki: dict[str, Any], db_factory: Callable[[str], str]
) -> tuple[SqlNode, SqlNode]:
    """Two started nodes, not yet connected."""
    a = await SqlNode("a", db_factory("a"), pki["a"]).start()
    b = await SqlNode("b", db_factory("b"), pki["b"]).start()
    return a, b


async def shutdown(*nodes: SqlNode) -> None:
    for node in nodes:
        await node.stop()
        node.dispose()


def owner_learned_from(node: SqlNode, other: SqlNode) -> SyncOwner:
    """The (detached) owner row ``node`` learned from ``other``."""
    with node.plain() as session:
        owner = session.scalars(
            sa.select(SyncOwner).where(SyncOwner.dest_hash == other.hash)
        ).first()
        assert owner is not None
        session.expunge(owner)
        return owner


def team_row(node: SqlNode, name: str) -> Team:
    with node.plain() as session:
        team = session.scalars(sa.select(Team).where(Team.name == name)).one()
        session.expunge(team)
        return team


def caught_up(node: SqlNode, other: SqlNode) -> bool:
    """True when ``node`` recorded (YouHave) every serial ``other``'s owners allocated."""
    with other.plain() as session:
        owners = set(
            session.scalars(
                sa.select(SyncOwner.id).where(SyncOwner.dest_hash.is_(None))
            )
        )
        top = session.scalar(
            sa.select(sa.func.max(Team.sync_serial)).where(
                Team.sync_owner_id.in_(owners)
            )
        )
        top = top or 0
    with node.plain() as session:
        serials = session.scalars(
            sa.select(SyncOwner.incoming_serial).where(SyncOwner.id.in_(owners))
        ).all()
    return bool(serials) and max(serials) >= top
