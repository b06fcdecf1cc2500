"""SqlSyncRegistry: the receive handlers of SQL classes (PROTOCOL.md §12.6).

Each received object is processed in :meth:`SqlSyncRegistry.sync_context`, whose
``session`` is a fresh :class:`SqlSyncSession` without a manager and without expiry on
commit; on any exception the session is rolled back, so a refused message never leaves a
trace in the database.

* ``incoming_sync``: commit (the row keeps the owner's serial).  A plain ``sync`` (no
  response awaited) gets a context of the manager's receive batch instead and is stored
  with its burst (:mod:`entanglement.sql.receive.batch`).
* ``incoming_forward`` / ``incoming_create`` at the owner: a forward of a row that does
  not exist is ``SyncNotFound`` (forward cannot create); the commit gives a new serial;
  database errors (constraint violations...) become ``SqlSyncError`` for the requester
  and the transaction is rolled back.  Elsewhere nothing is stored and the flood relays
  the proposal: it is taken out of the session (not rolled back, which would expire it
  and make the relay send this node's stored values; issue 10 item 1), so the next hop
  gets exactly what the requester sent, and the owner's answer comes back the same way.
* ``incoming_delete``: an unknown row is ``SyncNotFound`` (this stops delete floods in
  cycles); the row is deleted when we own it (tombstone by the session) or when the
  delete comes from the owner's direction (tombstone written here, with the deletion
  serial the message carries).
* ``after_flood_*``: the owner announces its new serial (YouHave trigger).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import sqlalchemy
import sqlalchemy.exc
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import instance_state, set_committed_value

from entanglement._plan import info_form
from entanglement.interface import SyncError, SyncNotFound, SyncRegistry
from entanglement.operations import create, delete, forward, sync
from entanglement.sql.receive.batch import (
    close_batch,
    flush_batch,
    hold_unknown_type,
    manager_batch,
)
from entanglement.sql.schema.state import sql_state
from entanglement.sql.schema.versions import settle_bookkeeping
from entanglement.sql.send.announce import trigger_you_have
from entanglement.sql.send.capture import NODE_SESSION_KEY
from entanglement.sql.send.session import sync_session_maker

__all__ = [
    "BatchSyncContext",
    "SqlSyncError",
    "SqlSyncRegistry",
    "SyncContext",
    "batch_context",
]

log = logging.getLogger("entanglement")


class SqlSyncError(SyncError):
    """A database error while the owner applied a request (sent to the requester)."""


@dataclass
class SyncContext:
    """What ``sync_context`` yields: the session, and what construction learned."""

    session: Session
    owner: Any = None
    existing: bool | None = None
    batch: Any = None
    row: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # its session stores what arrives from the owners' directions: it may write
        # rows owned elsewhere (see entanglement.sql.send.session)
        self.session.info[NODE_SESSION_KEY] = True


class BatchSyncContext(SyncContext):
    """The SyncContext of a batched row, and its own context manager: leaving it lets
    the batch commit when due (one object per received row rather than two)."""

    def __post_init__(self) -> None:
        pass  # the batch's session bypasses change capture; one context per row

    def __enter__(self) -> BatchSyncContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.batch.received()


class SqlSyncRegistry(SyncRegistry):
    """Registry of SqlSynchronizable classes; stores what it receives in SQL.

    Args:
        sessionmaker: makes the receive sessions; defaults to ``sync_session_maker()``.
        bind: engine for the default sessionmaker.
    """

    # set to [sql_meta_registry] by entanglement.sql.resync.meta, which the package's
    # __init__ imports before any registry can be made (it runs before any submodule)
    inherited_registries: ClassVar[list[SyncRegistry]] = []

    def __init__(
        self, *, sessionmaker: sessionmaker[Any] | None = None, bind: Any = None
    ) -> None:
        super().__init__()
        self._batch: Any = None
        self._batch_manager: weakref.ReferenceType[Any] | None = None
        if sessionmaker is None:
            sessionmaker = (
                sync_session_maker(bind=bind) if bind else sync_session_maker()
            )
        elif bind is not None:
            sessionmaker.configure(bind=bind)
        self.sessionmaker = sessionmaker
        for name, op in (
            ("sync", sync),
            ("forward", forward),
            ("delete", delete),
            ("create", create),
        ):
            self.register_operation(name, op)

    @classmethod
    def create_bookkeeping(cls, bind: Any) -> None:
        """Create or upgrade the bookkeeping tables (call before ``create_all``).

        Alembic is imported only when the database needs it (see
        :mod:`entanglement.sql.schema.versions`).
        """
        if isinstance(bind, sqlalchemy.Engine):
            with bind.begin() as conn:
                cls.create_bookkeeping(conn)
            return
        if not settle_bookkeeping(bind):
            from entanglement.sql.schema.upgrade import create_bookkeeping_tables

            create_bookkeeping_tables(bind)

    def associate_with_manager(self, manager: Any) -> None:
        """Remember the manager; give it a ``session`` if it has none."""
        super().associate_with_manager(manager)
        self.ensure_session(manager)
        add_listener = getattr(manager, "add_refusal_listener", None)
        if add_listener is not None:  # a row of a type we lack is held (sql.holds)
            add_listener(hold_unknown_type)
        on_close = getattr(manager, "on_close", None)
        if on_close is not None:  # no connection of the receive batch outlives it
            on_close(close_batch)

    def ensure_session(self, manager: Any) -> Session:
        """Create ``manager.session`` (no manager attached) unless it exists."""
        state = sql_state(manager)
        if state.sessionmaker is None:
            state.sessionmaker = self.sessionmaker
        session = getattr(manager, "session", None)
        if session is None:
            # no expiry: destinations loaded here stay readable between commits
            session = self.sessionmaker(expire_on_commit=False)
            session.info[NODE_SESSION_KEY] = True
            manager.session = session
        return session

    @info_form("_context_info")
    def sync_context(self, **info: Any) -> Any:
        """A fresh session for one received object, rolled back on error.

        Plain ``sync`` floods (no response awaited) are stored in batches instead, see
        :mod:`entanglement.sql.receive.batch`.
        """
        return self._context_info(info.get("sync_type"), info)

    def _context_info(self, sync_type: Any, info: dict[str, Any]) -> Any:
        # (the info-dict form a receive plan calls, entanglement._plan.info_form)
        manager = info.get("manager")
        if manager is None:
            return receive_context(self.sessionmaker)
        if info.get("response_for") is None:
            operation = info.get("operation")
            if operation is sync or operation == "sync":
                return BatchSyncContext(self._batch_session(manager), batch=self._batch)
        flush_batch(manager)
        return receive_context(sql_state(manager).sessionmaker or self.sessionmaker)

    def _batch_session(self, manager: Any) -> Session:
        # the manager's batch, remembered for the manager last seen (a weak reference):
        # looked up for every received row
        cached = self._batch_manager
        if cached is None or cached() is not manager:
            self._batch = manager_batch(manager, self.sessionmaker)
            self._batch_manager = weakref.ref(manager)
        return self._batch.session  # type: ignore[no-any-return]

    @info_form("_incoming_sync_info")
    def incoming_sync(self, obj: Any, context: SyncContext, **info: Any) -> None:
        """Store a row from its owner's direction (batched rows commit later)."""
        self._incoming_sync_info(obj, {**info, "context": context})

    def _incoming_sync_info(self, obj: Any, info: dict[str, Any]) -> None:
        # (the info-dict form a receive plan calls, entanglement._plan.info_form)
        context = info["context"]
        if context.batch is not None:
            attributes = info.get("attributes", frozenset())
            context.batch.add(obj, attributes, info.get("sender"))
        else:
            commit(context.session, info)

    def incoming_forward(
        self, obj: Any, context: SyncContext, operation: Any = None, **info: Any
    ) -> None:
        """Apply a proposal when we own the row; else leave it to the relay."""
        if not obj.sync_is_local:
            _keep_proposal(obj, context)
            return
        if operation == "forward" and not context.existing:
            raise SyncNotFound(f"{obj.sync_type}: no such row to forward to")
        commit(context.session, info)

    def incoming_create(self, obj: Any, context: SyncContext, **info: Any) -> None:
        """Create the row when we are its owner; else leave it to the relay."""
        self.incoming_forward(obj, context, **info)

    def incoming_delete(
        self, obj: Any, context: SyncContext, sender: Any = None, **info: Any
    ) -> None:
        """Delete a row we own or whose owner's direction sends the delete."""
        from entanglement.sql.schema.bookkeeping import tombstone_for

        session = context.session
        if not context.existing:
            session.rollback()
            raise SyncNotFound(f"{obj.sync_type}: no such row to delete")
        obj.sync_deleting = True
        if obj.sync_is_local:
            session.delete(obj)
        elif obj.sync_owner.dest_hash == getattr(sender, "dest_hash", None):
            session.delete(obj)
            session.add(tombstone_for(obj, int(obj.sync_serial)))
        else:
            session.rollback()
            return
        commit(session, info)

    def after_flood_forward(self, obj: Any, manager: Any, **info: Any) -> None:
        """The owner announces the serial of an applied forward."""
        _announce(obj, manager)

    def after_flood_create(self, obj: Any, manager: Any, **info: Any) -> None:
        """The owner announces the serial of a created row."""
        _announce(obj, manager)

    def after_flood_delete(self, obj: Any, manager: Any, **info: Any) -> None:
        """The owner announces the serial of a deletion."""
        _announce(obj, manager)


def _keep_proposal(obj: Any, context: SyncContext) -> None:
    # A relay stores nothing, but the flood that follows encodes ``obj`` toward the
    # owner: it must keep the values the requester proposed.  A rollback would expire
    # them (the relay then sent this node's stored copy, issue 10 item 1), so the
    # proposal is taken out of the session instead; closing the session discards it.
    if obj in context.session:
        if "sync_owner" not in instance_state(obj).dict and context.owner is not None:
            set_committed_value(obj, "sync_owner", context.owner)
        context.session.expunge(obj)


def _announce(obj: Any, manager: Any) -> None:
    if obj.sync_is_local and obj.sync_serial:
        trigger_you_have(manager, int(obj.sync_serial))


@contextmanager
def receive_context(maker: sessionmaker[Any]) -> Iterator[SyncContext]:
    """A SyncContext on a new session; rolled back on error, always closed."""
    session = maker(expire_on_commit=False)
    try:
        yield SyncContext(session)
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def commit(session: Session, info: dict[str, Any]) -> None:
    """Commit, turning database errors into ``SqlSyncError`` (after a rollback)."""
    try:
        session.commit()
    except sqlalchemy.exc.SQLAlchemyError as exc:
        session.rollback()
        cause = getattr(exc, "orig", None) or exc
        first_line = (str(cause).splitlines() or [""])[0]
        raise SqlSyncError(
            f"the database refused the change: {type(cause).__name__}: {first_line}"
        ) from exc


def batch_context(manager: Any, maker: sessionmaker[Any]) -> Any:
    """A SyncContext whose rows are stored by the manager's batch (module docstring).

    The batch's session comes from the manager's sessionmaker, else from ``maker``.
    """
    batch = manager_batch(manager, maker)
    return BatchSyncContext(batch.session, batch=batch)
