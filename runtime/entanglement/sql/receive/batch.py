"""Batched storage of received rows: one transaction and one lookup per burst.

A ``sync`` flood (and an IHave answer) is a stream of independent rows; committing each
one costs a disk flush, and looking each one up a query.  Rows received by a plain
``sync`` without a response context are collected by the manager's
:class:`ReceiveBatch`: once a row's hooks have run, its values are taken from the
object (:meth:`~entanglement.sql.schema.plan.RowPlan.snapshot`) and the object itself
is let go.  The batch is stored

* when the burst is over: ``COMMIT_DELAY`` (10 ms) passed without a new row; during a
  long flood at the latest ``MAX_DELAY`` (250 ms) after the batch's first row, or as
  soon as ``MAX_ROWS`` rows are pending (each commit is a disk flush: a catching-up peer
  stores its rows in few large transactions, while a lone update is stored at once);
* before any other received message is processed (a ``delete``, ``forward``, ``YouHave``
  ... reads the database through a fresh session and must see the rows before it).

How the rows are written (existence query, ORM update of existing rows, Core
``executemany`` of new ones in the foreign-key order of their tables) is
:mod:`entanglement.sql.receive.store`.  The same row received twice in a burst keeps
the later message.  Flooding is not delayed: the rows go on to other neighbours as
before.

Batched rows never join a session, so construction and filling skip what only a session
needs: a row of a class with the plain declarative constructor is made without calling
it (a class with its own constructor gets it called), and its keys, owner and plain
column values go straight into its ``__dict__``
(:func:`~entanglement.sql.schema.plan.fill_plain`; anything else is assigned through the
attribute as usual).  ORM events of the class (``before_insert``...) do not run for
them, as with any bulk INSERT.

Failures:

* a refused message leaves nothing in the batch, and its row is *held*
  (:mod:`entanglement.sql.receive.holds`): the owner's YouHave is recorded only up to
  the serial before it, so the row is asked for again on the next connection and
  arrives once the node can read it (issue 9); its neighbours are stored as usual;
* a row whose stored owner or class differs from the message's is skipped with an
  error in the log (rows never change owner or class through messages);
* a row the database refuses (issue 13: a unique or foreign key, a check, a value the
  column cannot take) no longer fails its batch.  The batch is rolled back; rows naming
  (by a foreign key) rows that have not arrived yet wait for the next commit
  (:mod:`entanglement.sql.receive.waiting`) unless no more rows can come (the commit
  before another message, or at close); the rest is stored in halves, each in its own
  transaction, down to the single rows the database refuses.  Each of those is logged
  as an error naming its type, key, owner and peer, and held like a refused message.
  No savepoints: pysqlite's (Python < 3.12) commit the transaction on release;
* any other failure (a busy or locked database: a warning; a bug: logged with its
  traceback) rolls the batch back and marks the senders of its rows *failed*: the
  next YouHave from each of them is then not recorded (and that connection closed), so
  the rows are asked for again on the next connection.  Only those senders: a peer
  whose rows were all stored has its YouHave recorded as usual.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

import sqlalchemy as sa
import sqlalchemy.exc
from sqlalchemy.orm import sessionmaker

from entanglement._codecplan import aliases_of
from entanglement._wire_errors import SyncError, UnregisteredSyncClass
from entanglement.sql.receive.holds import Holds
from entanglement.sql.receive.store import Pending, store, table_ranks
from entanglement.sql.receive.transient import first_line, is_transient
from entanglement.sql.receive.waiting import split_waiting
from entanglement.sql.schema.clearing import BYPASS_KEY
from entanglement.sql.schema.plan import row_plan
from entanglement.sql.schema.state import sql_state

__all__ = [
    "COMMIT_DELAY",
    "MAX_DELAY",
    "MAX_ROWS",
    "ReceiveBatch",
    "close_batch",
    "flush_batch",
    "hold_unknown_type",
    "manager_batch",
    "take_failure",
]

log = logging.getLogger("entanglement")
# Each commit costs a disk flush and a query per chunk of keys: a catch-up (tens of
# thousands of rows a second) commits about every MAX_ROWS rows, each pending row
# holding a snapshot of its values (some hundred bytes).
MAX_ROWS = 5000
# Frames arrive a TLS record at a time (some dozens of rows); a burst is over when no
# row came for COMMIT_DELAY; no row waits longer than MAX_DELAY for its commit.
COMMIT_DELAY = 0.01
MAX_DELAY = 0.25


class ReceiveBatch:
    """The pending received rows of one manager."""

    def __init__(self, maker: sessionmaker[Any]) -> None:
        self.session = maker(expire_on_commit=False)
        # every batched row is owned elsewhere (``sync`` refuses our own rows), so the
        # change capture (serials, tombstones) has nothing to do for this session
        self.session.info[BYPASS_KEY] = True
        self.owners: dict[Any, Any] = {}
        self.rows: dict[tuple[Any, ...], Pending] = {}
        # rows naming rows not stored yet, kept for the next commit (sql.waiting)
        self.waiting: dict[tuple[Any, ...], Pending] = {}
        self.failed: set[Any] = set()  # senders of rows lost since their YouHave
        self.holds = Holds()  # serials of refused rows (entanglement.sql.receive.holds)
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # (the timer's)
        self._first = self._last = 0.0

    @property
    def pending(self) -> int:
        """How many rows wait for the commit."""
        return len(self.rows) + len(self.waiting)

    @property
    def scheduled(self) -> bool:
        """True while a commit is due (rows were added since the last one)."""
        return self._timer is not None

    def received(self) -> None:
        """A row was received: commit now if the batch is full, else when due."""
        self.holds.settle()  # a row refused before incoming_sync took it is held
        if len(self.rows) >= MAX_ROWS:
            self.commit(final=False)
            return
        if self._timer is not None:  # (the loop of its timer: the running one)
            self._last = self._loop.time()  # type: ignore[union-attr]
            return
        loop = self._loop = asyncio.get_running_loop()
        self._first = self._last = now = loop.time()
        self._timer = loop.call_at(now + COMMIT_DELAY, self._due)

    def _due(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        due = min(self._first + MAX_DELAY, self._last + COMMIT_DELAY)
        if loop.time() >= due:
            self.commit(final=False)
        else:  # rows still coming: look again when the burst may be over
            self._timer = loop.call_at(due, self._due)

    def add(self, row: Any, attributes: frozenset[str], sender: Any = None) -> None:
        """Queue a received row (its hooks have run), the attributes its message
        carried and the neighbour it came from; a later message of the same row
        replaces it.  The row's values are taken now; the object is not kept."""
        self.holds.taken()
        cls = type(row)
        plan = row_plan(cls)
        aliases = aliases_of(cls)
        if aliases:  # the message named a renamed property by its old name
            attributes = frozenset([aliases.get(a, a) for a in attributes])
        state = row.__dict__
        key = (plan.base_mapper, *plan.ident(state))
        self.rows[key] = Pending(cls, key, plan.snapshot(state), attributes, sender)

    def commit(self, *, final: bool = True) -> None:
        """Store the pending rows; a row the database refuses is set apart (module
        docstring), any other failure rolls the batch back and marks the senders of
        its rows failed.

        Args:
            final: False when more rows of the burst may come (a timer, a full
                batch): rows naming rows not stored yet then wait for the next
                commit instead of being refused.
        """
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        merged = {**self.waiting, **self.rows}  # a later message replaces a waiting one
        self.rows, self.waiting = {}, {}
        entries = list(merged.values())
        try:
            self._store(entries)
        except _REFUSED:
            self._retry(entries, final)
        except Exception as exc:
            self._lost(entries, exc)
        finally:
            self.session.expunge_all()
            self.owners.clear()

    def _retry(self, entries: list[Pending], final: bool) -> None:
        # the database refused something: rows waiting for rows to come are kept
        # (unless no more will come), the others stored apart from what it refuses
        self.session.rollback()
        try:
            ready, waiting = split_waiting(self.session, entries)
        except Exception as exc:
            self._lost(entries, exc)
            return
        if final:
            ready = [*ready, *waiting]
        elif waiting:
            self.waiting = {entry.key: entry for entry in waiting}
            log.debug("%d received rows wait for the rows they name", len(waiting))
        self._isolate(ready)

    def _store(self, entries: list[Pending]) -> None:
        session = self.session
        with session.no_autoflush:
            store(session, entries)
        session.commit()

    def _isolate(self, entries: list[Pending]) -> None:
        # the database refused something: store halves of the failing part, each in
        # its own transaction, down to single rows (no savepoints: pysqlite's are not
        # reliable), the halves in the order store() inserts them
        parts = deque([_in_store_order(entries)])
        while parts:
            part = parts.popleft()
            try:
                self._store(part)
            except _REFUSED as exc:
                self.session.rollback()
                if len(part) == 1:
                    self._refuse(part[0], exc)
                else:
                    half = len(part) // 2
                    parts.extendleft([part[half:], part[:half]])
            except Exception as exc:
                self._lost([*part, *(e for rest in parts for e in rest)], exc)
                return

    def _refuse(self, entry: Pending, exc: BaseException) -> None:
        # one row the database refuses (a unique or foreign key, a check): logged
        # and held, so the next connection asks for it again (entanglement.sql.receive.holds)
        values, sender = entry.values, entry.sender
        owner = values.get("sync_owner_id")
        self.holds.hold(sender, owner, values.get("sync_serial"))
        log.error(
            "could not store %s %s of owner %s from %r %s (asked again on the next "
            "connection): %s",
            getattr(entry.cls, "sync_type", entry.cls.__name__),
            _key_text(entry.ident),
            owner,
            getattr(sender, "name", None),
            getattr(sender, "dest_hash", None),
            first_line(exc),
        )

    def _lost(self, entries: list[Pending], exc: BaseException) -> None:
        self.session.rollback()
        self.failed.update(entry.sender for entry in entries)
        count = len(entries)
        if is_transient(exc):  # a busy or locked database: no error of ours
            log.warning(
                "could not store %d received rows (asked again on the next "
                "connection): the database is unavailable: %s",
                count,
                first_line(exc),
            )
        elif isinstance(exc, sqlalchemy.exc.SQLAlchemyError):
            log.error(
                "could not store %d received rows (asked again on the next "
                "connection): %s",
                count,
                exc,
            )
        else:  # a bug, not the database: the traceback says where
            log.exception(
                "could not store %d received rows (asked again on the next "
                "connection)",
                count,
            )


# what the database says of rows it refuses (constraints, values it cannot take)
_REFUSED = (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.DataError)


def _in_store_order(entries: list[Pending]) -> list[Pending]:
    # classes in the foreign-key order of their last tables (stable: a class's rows
    # keep their order), so a half holds what the rows of later halves may name
    last: dict[type[Any], Any] = {
        entry.cls: row_plan(entry.cls).mapper.local_table for entry in entries
    }
    rank: dict[Any, int] = table_ranks(
        [t for t in last.values() if isinstance(t, sa.Table)]
    )
    return sorted(entries, key=lambda entry: rank.get(last[entry.cls], -1))


def _key_text(ident: tuple[Any, ...]) -> str:
    return str(ident[0]) if len(ident) == 1 else str(tuple(map(str, ident)))


def manager_batch(manager: Any, maker: sessionmaker[Any]) -> ReceiveBatch:
    """The manager's receive batch (created on first use, with the manager's
    sessionmaker, else ``maker``)."""
    state = sql_state(manager)
    batch = state.batch
    if batch is None:
        batch = state.batch = ReceiveBatch(state.sessionmaker or maker)
    return batch  # type: ignore[no-any-return]


def flush_batch(manager: Any) -> None:
    """Store the manager's pending received rows now."""
    batch = sql_state(manager).batch
    if batch is not None and (batch.pending or batch.scheduled):
        batch.commit()


def close_batch(manager: Any) -> None:
    """The manager closed: store what waits, then release the batch's connection."""
    state = sql_state(manager)
    batch, state.batch = state.batch, None
    if batch is None:
        return
    if batch.pending or batch.scheduled:
        batch.commit()
    batch.session.close()


def take_failure(manager: Any, sender: Any) -> bool:
    """True (once) if received rows from ``sender`` were lost since the last call."""
    batch = sql_state(manager).batch
    if batch is None or sender not in batch.failed:
        return False
    batch.failed.discard(sender)
    return True


def hold_unknown_type(
    manager: Any, sender: Any, msg: dict[str, Any], error: SyncError
) -> None:
    """A refusal listener (``manager.add_refusal_listener``): hold the serial of a
    plain ``sync`` of a type no registry of ``manager`` knows, so that the row comes
    again once this node's schema has the type."""
    if not isinstance(error, UnregisteredSyncClass):
        return
    if msg.get("_sync_operation", "sync") != "sync" or "_sync_owner" not in msg:
        return
    maker = sql_state(manager).sessionmaker
    if maker is None:
        return
    manager_batch(manager, maker).holds.hold(
        sender, msg["_sync_owner"], msg.get("sync_serial")
    )
