"""Batched storage of received rows: one transaction and one lookup per burst.

A ``sync`` flood (and an IHave answer) is a stream of independent rows; committing each
one costs a disk flush, and looking each one up a query.  Rows received by a plain
``sync`` without a response context are collected by the manager's
:class:`ReceiveBatch` as detached objects holding the message's values.  The batch is
stored

* ``COMMIT_DELAY`` (50 ms) after the first row of a burst, or as soon as ``MAX_ROWS``
  rows are pending;
* before any other received message is processed (a ``delete``, ``forward``, ``YouHave``
  ... reads the database through a fresh session and must see the rows before it).

Storing loads the rows that already exist with one ``IN`` query per class and chunk,
copies the received attributes onto them (only those the message carried) and adds the
others; the same row received twice in a burst keeps the later message.  Flooding is
not delayed: the rows go on to other neighbours as before.

Failures: a refused message leaves nothing in the batch.  A row whose stored owner
differs from the message's is skipped with an error in the log (rows never change owner
through messages).  A commit that fails (a database constraint) rolls the batch back and
marks it *failed*: the next YouHave is then not recorded, so the rows are asked for again
on the next connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
import sqlalchemy.exc
from sqlalchemy.orm import Mapper, sessionmaker

from entanglement.sql.state import sql_state

__all__ = [
    "COMMIT_DELAY",
    "MAX_ROWS",
    "ReceiveBatch",
    "batch_context",
    "flush_batch",
    "take_failure",
]

log = logging.getLogger("entanglement")
MAX_ROWS = 2000
# Frames arrive a TLS record at a time (some dozens of rows); waiting this long for more
# turns hundreds of small transactions (each a disk flush) into a few large ones.
COMMIT_DELAY = 0.05
_IN_CHUNK = 500


class ReceiveBatch:
    """The pending received rows of one manager."""

    def __init__(self, maker: sessionmaker[Any]) -> None:
        from entanglement.sql.clearing import BYPASS_KEY

        self.session = maker(expire_on_commit=False)
        # every batched row is owned elsewhere (``sync`` refuses our own rows), so the
        # change capture (serials, tombstones) has nothing to do for this session
        self.session.info[BYPASS_KEY] = True
        self.owners: dict[Any, Any] = {}
        self.rows: dict[tuple[Any, ...], tuple[Any, frozenset[str]]] = {}
        self.scheduled = False
        self.failed = False

    @property
    def pending(self) -> int:
        return len(self.rows)

    def add(self, row: Any, attributes: frozenset[str]) -> None:
        mapper: Mapper[Any] = sa.inspect(row).mapper
        key = (mapper.base_mapper, *mapper.primary_key_from_instance(row))
        self.rows[key] = (row, attributes)

    def commit(self) -> None:
        """Store the pending rows (rolled back and marked failed on error)."""
        self.scheduled = False
        rows, self.rows = self.rows, {}
        session = self.session
        try:
            with session.no_autoflush:
                for group in _by_class(rows.values()).items():
                    _store(session, *group)
            session.commit()
        except sqlalchemy.exc.SQLAlchemyError as exc:
            session.rollback()
            self.failed = True
            log.error(
                "could not store %d received rows (asked again on the next "
                "connection): %s",
                len(rows),
                exc,
            )
        session.expunge_all()
        self.owners.clear()


def _by_class(entries: Any) -> dict[type[Any], list[tuple[Any, frozenset[str]]]]:
    groups: dict[type[Any], list[tuple[Any, frozenset[str]]]] = {}
    for row, attributes in entries:
        groups.setdefault(type(row), []).append((row, attributes))
    return groups


def _store(
    session: Any, cls: type[Any], entries: list[tuple[Any, frozenset[str]]]
) -> None:
    mapper: Mapper[Any] = sa.inspect(cls)
    pk = mapper.primary_key
    existing: dict[tuple[Any, ...], Any] = {}
    idents = [tuple(mapper.primary_key_from_instance(row)) for row, _ in entries]
    for i in range(0, len(idents), _IN_CHUNK):
        chunk = idents[i : i + _IN_CHUNK]
        condition = (
            pk[0].in_([ident[0] for ident in chunk])
            if len(pk) == 1
            else sa.tuple_(*pk).in_(chunk)
        )
        for found in session.scalars(sa.select(cls).where(condition)):
            existing[tuple(mapper.primary_key_from_instance(found))] = found
    columns = {p.key for p in mapper.column_attrs}
    new_rows: list[dict[str, Any]] = []
    for (row, attributes), ident in zip(entries, idents, strict=True):
        stored = existing.get(ident)
        if stored is None:
            new_rows.append(_values(row, columns))
            continue
        if (
            stored.sync_owner_id is not None
            and stored.sync_owner_id != row.sync_owner.id
        ):
            log.error(
                "ignoring %s %s: it is owned by %s, the message says %s",
                cls.__name__,
                ident,
                stored.sync_owner_id,
                row.sync_owner.id,
            )
            continue
        for name in attributes & columns:
            setattr(stored, name, getattr(row, name))
    if new_rows:
        # ORM bulk INSERT: executemany per table, joined inheritance included
        session.execute(sa.insert(cls), new_rows)


def _values(row: Any, columns: set[str]) -> dict[str, Any]:
    state = sa.inspect(row).dict
    values = {key: state[key] for key in columns if key in state}
    values["sync_owner_id"] = state["sync_owner"].id
    return values


@contextmanager
def batch_context(manager: Any, maker: sessionmaker[Any]) -> Iterator[Any]:
    """A SyncContext whose rows are stored by the manager's batch (module docstring)."""
    from entanglement.sql.registry import SyncContext

    state = sql_state(manager)
    if state.batch is None:
        state.batch = ReceiveBatch(maker)
    batch = state.batch
    context = SyncContext(batch.session, batch=batch)
    try:
        yield context
    finally:
        if batch.pending >= MAX_ROWS:
            batch.commit()
        elif not batch.scheduled:
            batch.scheduled = True
            asyncio.get_running_loop().call_later(COMMIT_DELAY, batch.commit)


def flush_batch(manager: Any) -> None:
    """Store the manager's pending received rows now."""
    batch = sql_state(manager).batch
    if batch is not None and (batch.pending or batch.scheduled):
        batch.commit()


def take_failure(manager: Any) -> bool:
    """True (once) if a batch of received rows was lost since the last call."""
    batch = sql_state(manager).batch
    if batch is None or not batch.failed:
        return False
    batch.failed = False
    return True
