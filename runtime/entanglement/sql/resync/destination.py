"""SqlSyncDestination and sync_manager_destinations (PROTOCOL.md §12.7, §12.9).

A SqlSyncDestination is a TLS :class:`~entanglement.network.SyncDestination` mapped to
``sync_destinations``.  Runtime attributes are set on construction and when a row is
loaded (``attach_callbacks()`` runs in both cases, for subclasses).  Its ``connected()``
runs the connect-time resynchronisation (§12.8.1).  :class:`FilteredSqlSyncDestination` adds
the SQL filters (:mod:`entanglement.sql.resync.filter`) to it.

Choices: ``port`` is a column (quirk 20 fixed: NULL means the manager's port);
``you_have_timeout`` is a class attribute (0.5 s; tests set 0).

An interrupted first catch-up (found by the fault-injection suite, tests/faults): the
rows of an owner arrive before its YouHave, so a link cut in between leaves rows stored
while ``incoming_serial`` is still 0.  The next IHave then says 0, which is answered with
every row but no tombstones (§12.8.3 step 2), so a row the owner deleted meanwhile would
stay here forever.  ``connected()`` therefore clears, before the resync, the rows of each
owner learned from this destination whose ``incoming_serial`` is 0, exactly as an epoch
change does (§12.8.2 step 3); the IHave(0) that follows fetches all of them again.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, foreign, reconstructor, relationship

from entanglement._exceptions import ConnectError
from entanglement._hashes import DestHash
from entanglement.network import SyncDestination
from entanglement.sql.receive.transient import first_line, is_transient
from entanglement.sql.resync.exchange import resync_on_connect
from entanglement.sql.resync.filter import SqlFilteredMixin
from entanglement.sql.schema.bookkeeping import SyncOwner, _Bookkeeping
from entanglement.sql.schema.tables import sync_destinations
from entanglement.sql.send.capture import snapshot
from entanglement.sql.send.session import rollback_keeping_destinations

__all__ = [
    "FilteredSqlSyncDestination",
    "SqlSyncDestination",
    "sync_manager_destinations",
]

log = logging.getLogger("entanglement")


class SqlSyncDestination(SyncDestination, _Bookkeeping):
    """A persisted TLS peer (row of ``sync_destinations``).

    Args:
        dest_hash: the peer's CertHash.
        name: a name for logs (defaults to the host).
        host: where to connect (None: only accept its connections).
        port: the port to connect to (None: the manager's port).
        bw_per_sec: bandwidth budget in bytes per second.
        server_hostname: name checked against the peer's certificate (default: host).
    """

    __table__ = sync_destinations
    __mapper_args__ = {  # noqa: RUF012 - read by SQLAlchemy
        "polymorphic_on": sync_destinations.c.type,
        "polymorphic_identity": "SqlSyncDestination",
    }

    id: Mapped[int]
    dest_hash: Mapped[DestHash]
    name: Mapped[str]
    host: Mapped[str | None]
    bw_per_sec: Mapped[int]
    type: Mapped[str]
    port: Mapped[int | None]

    you_have_timeout: ClassVar[float] = 0.5

    def __init__(
        self,
        dest_hash: DestHash | str | bytes | None = None,
        name: str | None = None,
        *,
        host: str | None = None,
        port: int | None = None,
        bw_per_sec: int = 10_000_000,
        server_hostname: str | None = None,
    ) -> None:
        super().__init__(
            dest_hash,
            name if name is not None else host or "incoming",
            host=host,
            bw_per_sec=bw_per_sec,
            server_hostname=server_hostname,
        )
        self.port = port

    def init_runtime_state(self) -> None:
        """Reset the in-memory state (also run when a row is loaded)."""
        super().init_runtime_state()
        if not hasattr(self, "server_hostname"):
            self.server_hostname = None
        self.reset_resync_state()
        self.first_local_owner: uuid.UUID | None = None
        self.attach_callbacks()

    def reset_resync_state(self) -> None:
        """Forget the per-connection resync bookkeeping."""
        self.you_have_task: Any = None
        self.i_have_task: Any = None
        self.send_you_have: set[uuid.UUID] = set()
        self.received_i_have: set[uuid.UUID] = set()

    @reconstructor
    def reconstruct(self) -> None:
        """Runtime attributes of a row loaded from the database."""
        self.server_hostname = None
        self.init_runtime_state()

    def attach_callbacks(self) -> None:
        """Override to attach ``on_connect`` / ``on_connection_lost`` callbacks."""

    def __eq__(self, other: object) -> bool:
        if other is self:  # the common case: compared with itself for every flood
            return True
        if isinstance(other, SqlSyncDestination):
            return bool(self.dest_hash == other.dest_hash)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.dest_hash)

    def __repr__(self) -> str:
        return f"<SqlSyncDestination {self.name!r} {self.dest_hash}>"

    async def connected(self, manager: Any, protocol: Any, bwprotocol: Any) -> bool:
        """Default connect handling, then the connect-time resync (§12.8.1).

        A connection lost during the resync makes this raise (the drain fails), so the
        connection attempt is retried as for any other failure; so does a busy or
        locked database (a ``ConnectError``: one warning line, no traceback).
        """

        self.reset_resync_state()
        await super().connected(manager, protocol, bwprotocol)
        session = getattr(manager, "session", None)
        if session is not None:
            try:
                session.commit()
                self.forget_interrupted_catch_ups(manager.registries, session)
                await resync_on_connect(self, manager, protocol)
            except sa.exc.DBAPIError as exc:
                if not is_transient(exc):
                    raise
                rollback_keeping_destinations(session)  # (self is one of them)
                raise ConnectError(f"database unavailable: {first_line(exc)}") from exc
        log.info("%s %s: connected, resync started", self.name, self.dest_hash)
        return True

    def forget_interrupted_catch_ups(
        self, registries: Iterable[Any], session: Session
    ) -> int:
        """Clear the rows of owners from here that were never confirmed by a YouHave.

        Returns:
            The number of rows deleted (committed).
        """
        owners = session.scalars(
            sa.select(SyncOwner).where(
                SyncOwner.dest_hash == self.dest_hash, SyncOwner.incoming_serial == 0
            )
        ).all()
        cleared = 0
        for owner in owners:
            count = owner.clear_all_objects(registries=registries, session=session)
            session.commit()
            if count:
                log.info(
                    "%s %s: owner %s: cleared %d rows of an interrupted first catch-up",
                    self.name,
                    self.dest_hash,
                    owner.id,
                    count,
                )
            cleared += count
        return cleared

    def clear_all_objects(
        self,
        manager: Any = None,
        *,
        registries: Iterable[Any] | None = None,
        session: Session | None = None,
    ) -> None:
        """Forget every owner learned from this destination, and their rows.

        With a manager the owners' deletion is sent to the other live destinations.
        """

        if manager is not None:
            registries = registries if registries is not None else manager.registries
            session = session if session is not None else manager.session
        if session is None or registries is None:
            raise ValueError(
                "clear_all_objects needs a manager, or registries and a session"
            )
        owners = session.scalars(
            sa.select(SyncOwner).where(SyncOwner.dest_hash == self.dest_hash)
        ).all()
        for owner in owners:
            owner.clear_all_objects(registries=registries, session=session)
            snap = snapshot(owner)
            session.delete(owner)
            session.commit()
            if manager is not None:
                manager.synchronize(
                    snap, exclude=[self], operation="delete", attributes_to_sync=("id",)
                )


def sync_manager_destinations(
    manager: Any,
    session: Session | None = None,
    cls: type[SqlSyncDestination] = SqlSyncDestination,
    force_resync: bool = False,
) -> None:
    """Make the manager's ``cls`` destinations match the rows of the database.

    Args:
        manager: the SyncManager (its ``session`` is the default session).
        session: where to read the rows.
        cls: the destination class (rows of other classes are left alone).
        force_resync: for each added destination, stamp a new incoming epoch on the
            owners learned from it so both sides resynchronise from scratch (§12.8.8).
    """
    manager_session: Session = manager.session
    session = session if session is not None else manager_session
    rows = session.scalars(sa.select(cls)).all()
    in_db = {row.dest_hash for row in rows}
    for dest in list(manager.destinations):
        if isinstance(dest, cls) and dest.dest_hash not in in_db:
            log.info("destination %s %s removed", dest.name, dest.dest_hash)
            manager.remove_destination(dest)
    for row in rows:
        if manager.dest_by_hash(row.dest_hash) is not None:
            continue
        if session is not manager_session:
            session.expunge(row)
            manager_session.add(row)
        if force_resync:
            _stamp_new_epoch(manager_session, row.dest_hash)
        log.info("destination %s %s added", row.name, row.dest_hash)
        manager.add_destination(row)
    manager_session.commit()
    if session is not manager_session:
        session.commit()


def _stamp_new_epoch(session: Session, dest_hash: DestHash) -> None:
    now = dt.datetime.now(dt.UTC)
    for owner in session.scalars(
        sa.select(SyncOwner).where(SyncOwner.dest_hash == dest_hash)
    ):
        owner.incoming_epoch = now


# The owners learned from a destination, and the destination an owner was learned from
# (read-only: the link is the hash text, not a foreign key, as in the original's schema).
SqlSyncDestination.owners = relationship(
    SyncOwner,
    primaryjoin=lambda: foreign(SyncOwner.dest_hash) == SqlSyncDestination.dest_hash,
    viewonly=True,
    uselist=True,
)
SyncOwner.sql_destination = relationship(
    SqlSyncDestination,
    primaryjoin=lambda: foreign(SyncOwner.dest_hash) == SqlSyncDestination.dest_hash,
    viewonly=True,
    uselist=False,
)


class FilteredSqlSyncDestination(SqlFilteredMixin, SqlSyncDestination):
    """A persisted SQL peer that holds only the rows its filters pass.

    Filters are runtime state: attach them in :meth:`attach_callbacks` (a subclass,
    run on construction and when the row is loaded) or on the loaded destination.
    Subclasses are mapped: give each a ``polymorphic_identity``.

    Args:
        *args, **kwargs: as for :class:`SqlSyncDestination`.
        filter_default_permissive: what all-neutral filters mean (False: the peer
            holds only what a filter recommends).
    """

    __mapper_args__ = {  # noqa: RUF012 - read by SQLAlchemy
        "polymorphic_identity": "FilteredSqlSyncDestination"
    }

    filter_default_permissive = False

    def __init__(
        self, *args: Any, filter_default_permissive: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.filter_default_permissive = filter_default_permissive

    def init_runtime_state(self) -> None:
        """The filters first: ``attach_callbacks`` (run by the base) may add some."""
        self.init_filters()
        super().init_runtime_state()

    def __repr__(self) -> str:
        return f"<FilteredSqlSyncDestination {self.name!r} {self.dest_hash}>"
