"""Batched storage of received rows: one transaction per burst instead of per row.

A ``sync`` flood (and an IHave answer) is a stream of independent rows; committing each
one costs a disk flush.  Rows received by a plain ``sync`` without a response context go
into the manager's :class:`ReceiveBatch`, whose session is committed

* right after the current burst of frames has been processed (``loop.call_soon`` runs
  once ``data_received`` returns), or when ``MAX_ROWS`` rows are pending;
* before any other received message is processed (a ``delete``, ``forward``, ``YouHave``
  ... reads the database through a fresh session and must see the rows before it).

Flooding is not delayed: the rows go on to other neighbours as before.

Failures: a message refused during processing drops only its own row from the batch (a
new row is expunged, an existing one expired).  A commit that fails (a database
constraint) rolls the batch back and marks it *failed*: the next YouHave is then not
recorded, so the lost rows are asked for again on the next connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy.exc
from sqlalchemy.orm import sessionmaker

from entanglement.sql.state import sql_state

__all__ = ["MAX_ROWS", "ReceiveBatch", "batch_context", "flush_batch", "take_failure"]

log = logging.getLogger("entanglement")
MAX_ROWS = 2000


class ReceiveBatch:
    """The pending received rows of one manager."""

    def __init__(self, maker: sessionmaker[Any]) -> None:
        self.session = maker(expire_on_commit=False)
        self.pending = 0
        self.new: dict[tuple[Any, ...], Any] = {}
        self.scheduled = False
        self.failed = False

    def commit(self) -> None:
        """Commit the pending rows (rolled back and marked failed on error)."""
        self.scheduled = False
        if not self.pending:
            self.session.rollback()  # end the reading transaction: it holds locks
            return
        try:
            self.session.commit()
        except sqlalchemy.exc.SQLAlchemyError as exc:
            self.session.rollback()
            self.failed = True
            log.error(
                "could not store %d received rows (asked again on the next "
                "connection): %s",
                self.pending,
                exc,
            )
        self.session.expunge_all()
        self.pending = 0
        self.new.clear()

    def forget(self, obj: Any, created: bool) -> None:
        """Undo what a refused message did to its row (rows of earlier messages stay)."""
        if obj is None:
            return
        if created and obj in self.session.new:
            self.session.expunge(obj)
            for key, value in list(self.new.items()):
                if value is obj:
                    del self.new[key]
        elif obj in self.session and obj not in self.session.new:
            self.session.expire(obj)


@contextmanager
def batch_context(manager: Any, maker: sessionmaker[Any]) -> Iterator[Any]:
    """A SyncContext on the manager's batch session (see the module docstring)."""
    from entanglement.sql.registry import SyncContext

    state = sql_state(manager)
    if state.batch is None:
        state.batch = ReceiveBatch(maker)
    batch = state.batch
    context = SyncContext(batch.session, batch=batch)
    try:
        yield context
    except BaseException:
        batch.forget(context.row, created=context.existing is False)
        raise
    else:
        batch.pending += 1
    finally:
        if batch.pending >= MAX_ROWS:
            batch.commit()
        elif not batch.scheduled:
            batch.scheduled = True
            asyncio.get_running_loop().call_soon(batch.commit)


def flush_batch(manager: Any) -> None:
    """Commit the manager's pending received rows now."""
    batch = sql_state(manager).batch
    if batch is not None and batch.pending:
        batch.commit()


def take_failure(manager: Any) -> bool:
    """True (once) if a batch of received rows was lost since the last call."""
    batch = sql_state(manager).batch
    if batch is None or not batch.failed:
        return False
    batch.failed = False
    return True
