"""SqlSyncSession: change capture, serials, tombstones and ``sync_commit`` (§12.4).

Theory of operation
-------------------
Change capture is three synchronous session events that only record and enqueue; none of
them awaits (house style rule 14):

* ``before_flush`` (:func:`capture.prepare_flush`): owners are defaulted to the local
  owner, local rows get the flush's serial (one ``sync_serial`` row per flush) and local
  deletions a tombstone; remote-owned changes are refused in a managed session.
* ``after_flush_postexec``: with a manager, a detached snapshot of every local change of
  the flush is queued for sending; nothing is sent before the commit succeeds.
* ``after_commit``: with a manager, the queued snapshots are handed to
  ``manager.synchronize`` (``sync`` or ``delete`` to every live destination) and the
  YouHave announcement is triggered; ``after_rollback`` drops the queue.

``sync_commit()`` is the explicit step for rows owned elsewhere: their changes are turned
into ``forward`` (changed attributes + keys), ``create`` (new rows) or ``delete``
requests toward the owner's next hop, each with a ``sync_future``, and expunged.

Rows owned elsewhere in a session without a manager (issue 10 item 8; the spec lets any
such session store them): only the node's own sessions may (receive contexts and
``manager.session``, marked with :data:`~entanglement.sql.send.capture.NODE_SESSION_KEY`), as
they store what comes from the owner's direction.  An application's session (the
README's application-plus-node set-up) refuses an edit, creation or deletion of such a
row with ``SyncUnauthorized`` at commit (and at ``sync_commit()``, which has nothing to
send it with): stored locally, the change would never reach the owner, and the next
update from the owner would silently undo it.  A write that sets the row's
``sync_serial`` stores a version of the owner's (what a tool copying rows between
databases does) and is allowed.  Owners (``SyncOwner`` rows) are
bookkeeping and stay writable (see :mod:`entanglement.sql.schema.bookkeeping`).

Fixed quirk 42: a flush that writes a row without an owner while no local owner exists
creates the local owner in that flush, so no row is ever stored ownerless.
Fixed quirk 43: a *new* row given a remote owner is sent as a ``create`` request to the
owner instead of being committed locally and forwarded (which the owner had to reject).
Quirk 50: no stack capture per session, and no scratch session is left open.
A commit that fails is rolled back at once (:meth:`SqlSyncSession.commit`): a failed
COMMIT would otherwise keep the transaction, and on SQLite the file's write lock, open.
The destinations loaded in the session stay loaded through that rollback
(:func:`rollback_keeping_destinations`).
Sessions must be used on the manager's event-loop thread (``synchronize`` is not
thread-safe).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, sessionmaker

from entanglement.sql.schema.clearing import BYPASS_KEY
from entanglement.sql.send import capture, requests
from entanglement.sql.send.announce import trigger_you_have

if TYPE_CHECKING:

    from entanglement.sql.schema.model import SqlSynchronizable

__all__ = [
    "Outbox",
    "SqlSyncSession",
    "rollback_keeping_destinations",
    "sync_session_maker",
]

log = logging.getLogger("entanglement")


@dataclass
class Outbox:
    """Committed local changes waiting for the commit to finish.

    A changed row is kept as its *record* (its values copied at flush time, see
    :func:`~entanglement.sql.send.capture.row_record`) and becomes a snapshot instance only when it is sent: a
    mapped instance is three objects for the garbage collector (instance, state,
    ``__dict__``), and everything a commit keeps alive until it ends makes the next
    full collection, which walks the whole heap, come sooner.
    """

    items: dict[Any, tuple[str, Any]] = field(default_factory=dict)
    max_serial: int = 0

    def add(self, key: Any, operation: str, snap: Any) -> None:
        """Queue a snapshot (an instance, or a row record)."""
        self.items[key] = (operation, snap)
        serial = snap[1].get("sync_serial") if type(snap) is tuple else snap.sync_serial
        self.max_serial = max(self.max_serial, int(serial or 0))

    def clear(self) -> None:
        self.items.clear()
        self.max_serial = 0

    def send(self, manager: Any, *, flush: bool = False) -> None:
        """Flood every snapshot to all live destinations, then trigger YouHave.

        With ``flush``, the frames are written at once (``manager.flush()``) instead
        of at the event loop's next turn.
        """

        if not self.items:
            return
        items, serial = list(self.items.values()), self.max_serial
        self.clear()
        snaps = [
            (op, capture.materialize(s) if type(s) is tuple else s) for op, s in items
        ]
        for operation, snap in sorted(snaps, key=lambda i: int(i[1].sync_priority)):
            keys = capture.key_names(snap) if operation == "delete" else None
            try:
                manager.synchronize(snap, operation=operation, attributes_to_sync=keys)
            except Exception:
                log.exception("could not flood %s %s", operation, snap.sync_type)
        trigger_you_have(manager, serial)
        if flush:
            manager.flush()


class SqlSyncSession(Session):
    """A Session that assigns serials, writes tombstones and floods committed changes.

    Args:
        manager: the SyncManager to flood through; without one the session only keeps
            the bookkeeping (serials, tombstones) and may store rows owned elsewhere.

    Intended use with a manager: ``session.sync_commit()`` (requests for rows owned
    elsewhere), then ``session.commit()`` (local rows, flooded once committed).
    """

    def __init__(self, *args: Any, manager: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.manager = manager
        self.sync_dirty: dict[int, tuple[SqlSynchronizable, AbstractSet[str]]] = {}
        self.sync_deleted: dict[int, SqlSynchronizable] = {}
        self.sync_outbox = Outbox()

    def commit(self) -> None:
        """Commit; a commit that fails is rolled back before the error propagates.

        A failed COMMIT leaves the transaction open (SQLAlchemy's "prepared" state, in
        which the session can neither retry nor run SQL): on SQLite it keeps the file's
        write lock and its hot journal until someone calls ``rollback()``, so every
        other writer, the node's own receive sessions included, fails on the busy
        timeout meanwhile (issue 10, the fault suite).  Rolling back here means no
        failure leaves a transaction open, whatever the caller does next.
        """
        try:
            super().commit()
        except BaseException:
            with contextlib.suppress(Exception):  # the commit's error is the one to see
                rollback_keeping_destinations(self)
            raise

    def sync_commit(
        self, expunge_nonlocal: bool = True, *, update_responses: bool = True
    ) -> None:
        """Send requests for changed rows owned elsewhere, toward their owners.

        Args:
            expunge_nonlocal: expunge such rows so a later commit does not write them.
            update_responses: give each such row a ``sync_future`` that resolves with
                the owner's answer (the accepted object, an error, or None).
        """
        requests.prepare_remote(self, expunge_nonlocal=expunge_nonlocal)
        if self.manager is not None:
            requests.send_remote_requests(self, update_responses=update_responses)
            self.sync_outbox.send(self.manager)
        self.sync_dirty.clear()
        self.sync_deleted.clear()


@event.listens_for(SqlSyncSession, "before_flush")
def _before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    if isinstance(session, SqlSyncSession) and not session.info.get(BYPASS_KEY):
        capture.prepare_flush(session)


@event.listens_for(SqlSyncSession, "after_flush_postexec")
def _after_flush(session: Session, flush_context: Any) -> None:
    if isinstance(session, SqlSyncSession) and session.manager is not None:
        capture.snapshot_flushed(session)


@event.listens_for(SqlSyncSession, "after_commit")
def _after_commit(session: Session) -> None:
    if not isinstance(session, SqlSyncSession):
        return
    if session.manager is not None:
        # flush: the application may commit again before it yields to the event loop;
        # what this (now durable) commit queued leaves at once, and peers store it
        # meanwhile.
        session.sync_outbox.send(session.manager, flush=True)
    session.sync_outbox.clear()
    session.sync_dirty.clear()
    session.sync_deleted.clear()


@event.listens_for(SqlSyncSession, "after_rollback")
def _after_rollback(session: Session) -> None:
    if isinstance(session, SqlSyncSession):
        session.sync_outbox.clear()
        session.sync_dirty.clear()
        session.sync_deleted.clear()


def rollback_keeping_destinations(session: Session) -> None:
    """Roll ``session`` back; the destinations loaded in it stay loaded.

    A rollback expires every object of the session, and a live destination of the
    manager (``manager.session`` holds them) would then reload its attributes from
    the database on the next use: while the database is locked, its hash, its name
    or its address raised in the middle of connecting or flooding.  Unchanged
    destinations are taken out of the session for the rollback and put back after it,
    as they were.
    """
    from entanglement._destinations import SyncDestinationBase

    kept = [
        obj
        for obj in list(session.identity_map.values())
        if isinstance(obj, SyncDestinationBase) and not inspect(obj).modified
    ]
    for obj in kept:
        session.expunge(obj)
    try:
        session.rollback()
    finally:
        for obj in kept:
            session.add(obj)


def sync_session_maker(*args: Any, **kwargs: Any) -> sessionmaker[SqlSyncSession]:
    """Like ``sqlalchemy.orm.sessionmaker``, for :class:`SqlSyncSession` sessions."""
    kwargs.setdefault("class_", SqlSyncSession)
    return sessionmaker(*args, **kwargs)
