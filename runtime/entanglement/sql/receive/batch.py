"""Batched storage of received rows: one transaction and one lookup per burst.

A ``sync`` flood (and an IHave answer) is a stream of independent rows; committing each
one costs a disk flush, and looking each one up a query.  Rows received by a plain
``sync`` without a response context are collected by the manager's
:class:`ReceiveBatch` as detached objects holding the message's values.  The batch is
stored

* when the burst is over: ``COMMIT_DELAY`` (10 ms) passed without a new row; during a
  long flood at the latest ``MAX_DELAY`` (250 ms) after the batch's first row, or as
  soon as ``MAX_ROWS`` rows are pending (each commit is a disk flush: a catching-up peer
  stores its rows in few large transactions, while a lone update is stored at once;
  batches much larger than 2000 rows measured slower, the detached rows weighing on the
  garbage collector);
* before any other received message is processed (a ``delete``, ``forward``, ``YouHave``
  ... reads the database through a fresh session and must see the rows before it).

Storing asks which rows already exist with one light query per class and chunk (keys,
owner and discriminator from the base table; ``IN`` a list of keys, or on PostgreSQL
``= ANY`` one array of them, the same statement whatever the number of keys).  Existing
rows are loaded through the ORM and get the received attributes (only those the message
carried); new rows are inserted with Core ``executemany`` per table (or the ORM bulk INSERT for shapes the plan
does not cover, see :mod:`entanglement.sql.schema.plan`).  The same row received twice in a
burst keeps the later message.  Flooding is not delayed: the rows go on to other
neighbours as before.

Batched rows never join a session, so construction and filling skip what only a session
needs: a row of a class with the plain declarative constructor is made without calling
it, and plain column values go straight into its ``__dict__``
(:func:`~entanglement.sql.schema.plan.fill_plain`; anything else is assigned through the
attribute as usual).  ORM events of the class (``before_insert``...) do not run for
them, as with any bulk INSERT.

Failures: a refused message leaves nothing in the batch, and its row is *held*
(:mod:`entanglement.sql.receive.holds`): the owner's YouHave is recorded only up to the serial
before it, so the row is asked for again on the next connection and arrives once the
node can read it (issue 9); the row's neighbours in the burst are stored as usual
(issue 10 item 5).  A row whose stored owner
differs from the message's, or whose stored class differs from the message's, is
skipped with an error in the log (rows never change owner or class through messages).
A commit that fails (a busy or locked database: a warning; a database constraint: an
error; a bug: logged with its traceback) rolls the batch back and marks it *failed*: the next YouHave is then not recorded, so the rows
are asked for again on the next connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
import sqlalchemy.exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import sessionmaker

from entanglement._codecplan import aliases_of
from entanglement._errors import SyncError, UnregisteredSyncClass
from entanglement.sql.receive.holds import Holds
from entanglement.sql.receive.transient import first_line, is_transient
from entanglement.sql.schema.clearing import BYPASS_KEY
from entanglement.sql.schema.plan import RowPlan, row_plan
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
MAX_ROWS = 2000
# Frames arrive a TLS record at a time (some dozens of rows); a burst is over when no
# row came for COMMIT_DELAY; no row waits longer than MAX_DELAY for its commit.
COMMIT_DELAY = 0.01
MAX_DELAY = 0.25
_IN_CHUNK = 500


class ReceiveBatch:
    """The pending received rows of one manager."""

    def __init__(self, maker: sessionmaker[Any]) -> None:

        self.session = maker(expire_on_commit=False)
        # every batched row is owned elsewhere (``sync`` refuses our own rows), so the
        # change capture (serials, tombstones) has nothing to do for this session
        self.session.info[BYPASS_KEY] = True
        self.owners: dict[Any, Any] = {}
        self.rows: dict[tuple[Any, ...], tuple[Any, frozenset[str]]] = {}
        self.failed = False
        self.holds = Holds()  # serials of refused rows (entanglement.sql.receive.holds)
        self._timer: asyncio.TimerHandle | None = None
        self._first = self._last = 0.0

    @property
    def pending(self) -> int:
        """How many rows wait for the commit."""
        return len(self.rows)

    @property
    def scheduled(self) -> bool:
        """True while a commit is due (rows were added since the last one)."""
        return self._timer is not None

    def received(self) -> None:
        """A row was received: commit now if the batch is full, else when due."""
        self.holds.settle()  # a row refused before incoming_sync took it is held
        if len(self.rows) >= MAX_ROWS:
            self.commit()
            return
        loop = asyncio.get_running_loop()
        self._last = now = loop.time()
        if self._timer is None:
            self._first = now
            self._timer = loop.call_at(now + COMMIT_DELAY, self._due)

    def _due(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        due = min(self._first + MAX_DELAY, self._last + COMMIT_DELAY)
        if loop.time() >= due:
            self.commit()
        else:  # rows still coming: look again when the burst may be over
            self._timer = loop.call_at(due, self._due)

    def add(self, row: Any, attributes: frozenset[str]) -> None:
        """Queue a received row and the attributes its message carried (a later
        message of the same row replaces it)."""
        self.holds.taken()
        plan = row_plan(type(row))
        aliases = aliases_of(type(row))
        if aliases:  # the message named a renamed property by its old name
            attributes = frozenset([aliases.get(a, a) for a in attributes])
        self.rows[(plan.base_mapper, *plan.ident(row.__dict__))] = (row, attributes)

    def commit(self) -> None:
        """Store the pending rows (rolled back and marked failed on error)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        rows, self.rows = self.rows, {}
        session = self.session
        try:
            with session.no_autoflush:
                for group in _by_class(rows.items()).items():
                    _store(session, *group)
            session.commit()
        except Exception as exc:
            session.rollback()
            self.failed = True
            if is_transient(exc):  # a busy or locked database: no error of ours
                log.warning(
                    "could not store %d received rows (asked again on the next "
                    "connection): the database is unavailable: %s",
                    len(rows),
                    first_line(exc),
                )
            elif isinstance(exc, sqlalchemy.exc.SQLAlchemyError):
                log.error(
                    "could not store %d received rows (asked again on the next "
                    "connection): %s",
                    len(rows),
                    exc,
                )
            else:  # a bug, not the database: the traceback says where
                log.exception(
                    "could not store %d received rows (asked again on the next "
                    "connection)",
                    len(rows),
                )
        session.expunge_all()
        self.owners.clear()


_Entry = tuple[Any, frozenset[str], tuple[Any, ...]]  # row, attributes, key values


def _by_class(items: Any) -> dict[type[Any], list[_Entry]]:
    groups: dict[type[Any], list[_Entry]] = {}
    for key, (row, attributes) in items:
        groups.setdefault(type(row), []).append((row, attributes, key[1:]))
    return groups


def _store(session: Any, cls: type[Any], entries: list[_Entry]) -> None:
    plan = row_plan(cls)
    stored = _stored_rows(session, plan, [ident for _, _, ident in entries])
    new_rows: list[dict[str, Any]] = []
    updates: list[_Entry] = []
    for entry in entries:
        found = stored.get(entry[2])
        if found is None:
            new_rows.append(entry[0].__dict__)
        elif _acceptable(cls, plan, entry[2], found, entry[0]):
            updates.append(entry)
    if updates:
        _update(session, cls, plan, updates)
    if new_rows:
        _insert(session, cls, plan, new_rows)


def _stored_rows(
    session: Any, plan: RowPlan, idents: list[tuple[Any, ...]]
) -> dict[tuple[Any, ...], tuple[Any, Any]]:
    # which rows exist, with their owner and concrete class: a light query on the base
    # table (a catching-up peer receives mostly new rows)
    base = plan.base_mapper
    pk = base.primary_key
    columns = [*pk, base.columns["sync_owner_id"]]
    discriminator = base.polymorphic_on
    if discriminator is not None:
        columns.append(discriminator)
    width = len(pk)
    stored: dict[tuple[Any, ...], tuple[Any, Any]] = {}
    for condition, params in _key_conditions(session, pk, idents):
        found_rows = session.execute(sa.select(*columns).where(condition), params)
        for found in found_rows:
            kind = found[width + 1] if discriminator is not None else None
            stored[tuple(found[:width])] = (found[width], kind)
    return stored


def _key_conditions(
    session: Any, pk: Any, idents: list[tuple[Any, ...]]
) -> Iterator[tuple[Any, dict[str, Any]]]:
    # PostgreSQL: one array parameter (``= ANY``), the same statement every time; an
    # IN list of hundreds of parameters costs several times more to send and plan
    if len(pk) == 1 and session.get_bind().dialect.name == "postgresql":
        array = sa.bindparam("keys", type_=postgresql.ARRAY(pk[0].type))
        for i in range(0, len(idents), MAX_ROWS):
            keys = [ident[0] for ident in idents[i : i + MAX_ROWS]]
            yield pk[0] == sa.any_(array), {"keys": keys}
        return
    for i in range(0, len(idents), _IN_CHUNK):
        chunk = idents[i : i + _IN_CHUNK]
        if len(pk) == 1:
            yield pk[0].in_([ident[0] for ident in chunk]), {}
        else:
            yield sa.tuple_(*pk).in_(chunk), {}


def _acceptable(
    cls: type[Any], plan: RowPlan, ident: Any, found: tuple[Any, Any], row: Any
) -> bool:
    owner_id, kind = found
    if owner_id is not None and owner_id != row.sync_owner.id:
        log.error(
            "ignoring %s %s: it is owned by %s, the message says %s",
            cls.__name__,
            ident,
            owner_id,
            row.sync_owner.id,
        )
        return False
    if kind is not None and kind not in plan.kinds:  # (a subclass's row is one of cls)
        log.error("ignoring %s %s: the stored row is a %s", cls.__name__, ident, kind)
        return False
    return True


def _update(session: Any, cls: type[Any], plan: RowPlan, updates: list[_Entry]) -> None:
    # the message's attributes only, through the ORM (validators, joined tables)
    loaded: dict[tuple[Any, ...], Any] = {}
    idents = [ident for _, _, ident in updates]
    for condition, params in _key_conditions(session, plan.mapper.primary_key, idents):
        for found in session.scalars(sa.select(cls).where(condition), params):
            loaded[plan.ident(found.__dict__)] = found
    columns = plan.column_keys
    for row, attributes, ident in updates:
        stored = loaded.get(ident)
        if stored is None:  # no discriminator told us: the stored row is no cls
            log.error(
                "ignoring %s %s: the stored row is another class", cls.__name__, ident
            )
            continue
        for name in attributes & columns:
            setattr(stored, name, getattr(row, name))


def _insert(
    session: Any, cls: type[Any], plan: RowPlan, states: list[dict[str, Any]]
) -> None:
    if plan.tables is None:  # the ORM bulk INSERT (see entanglement.sql.schema.plan)
        columns = plan.column_keys
        rows = []
        for state in states:
            values = {key: state[key] for key in columns if key in state}
            values["sync_owner_id"] = state["sync_owner"].id
            rows.append(values)
        session.execute(sa.insert(cls), rows)
        return
    for table_plan in plan.tables:  # the base table first
        # rows carrying the same columns share one executemany (a partial message
        # makes a row with fewer columns; the column defaults fill the others)
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for state in states:
            values = table_plan.values(state)
            groups.setdefault(tuple(values), []).append(values)
        insert = table_plan.table.insert()
        for group in groups.values():
            session.execute(insert, group)


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


def take_failure(manager: Any) -> bool:
    """True (once) if a batch of received rows was lost since the last call."""
    batch = sql_state(manager).batch
    if batch is None or not batch.failed:
        return False
    batch.failed = False
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
