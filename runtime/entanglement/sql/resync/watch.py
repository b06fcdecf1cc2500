"""Pushing rows that other processes committed to the database (used by ``entanglegen node``).

A node process does not see commits made by applications through their own engines, so
no flood follows them.  :class:`CommitWatcher` notices them by the highest allocated
serial (serials become visible in commit order, see :mod:`entanglement.sql.send.serials`)
and, for every live neighbour that has asked for a local owner (IHave), sends what is
newer than what it pushed to that connection, exactly like an IHave answer (tombstones,
rows, then YouHave).

Marks are per connection, and one push at a time runs per connection (issue 10, the
fault suite):

* A connection first seen by a poll gets as its mark the top serial of the poll
  *before*: that was committed before the connection existed, so the connection's IHave
  answer, which started later, covers it.  (One mark for all connections left a gap: a
  commit seen while a connection's IHave answer was still running was marked pushed
  everywhere, although that connection was skipped and its answer had already read its
  rows; nothing sent it until the next reconnection.)  What the answer and the first
  push both cover is sent twice, which a receiver takes as a repeat.
* A push covers (mark, top] for each local owner the neighbour asked for, and only
  then moves the mark; the next push of that connection starts after it.  Pushes running
  side by side could end out of order, and a YouHave of a later push would then claim
  rows an earlier one had not sent yet.

Database faults: a push that fails on a transient fault (a locked database, see
:mod:`entanglement.sql.receive.transient`) leaves the connection's mark where it was, so the
next poll sends the range again instead of losing it; the failure is recorded on the
watcher's :class:`~entanglement.sql.receive.transient.FaultEpisodes` (one line per episode)
rather than logged as a failed task with a traceback.  A push cut by the connection's
loss just ends: the neighbour's IHave after reconnecting asks from what it recorded.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

import sqlalchemy as sa

from entanglement._exceptions import TransportError
from entanglement._wire_errors import SyncNotConnected
from entanglement.sql.receive.transient import FaultEpisodes, is_transient
from entanglement.sql.resync.answer import answer_i_have
from entanglement.sql.schema.bookkeeping import SyncOwner
from entanglement.sql.schema.state import sql_state
from entanglement.sql.schema.tables import sync_serial

__all__ = ["CommitWatcher"]

log = logging.getLogger("entanglement")


class CommitWatcher:
    """Remembers the last serial pushed per connection; :meth:`poll` pushes anything
    newer."""

    def __init__(self, manager: Any, episodes: FaultEpisodes | None = None) -> None:
        self.manager = manager
        self.episodes = episodes
        self.seen = self._top()
        # per connection: every serial up to the mark was sent to it
        self._marks: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self._pushing: weakref.WeakSet[Any] = weakref.WeakSet()
        for protocol in manager.connections:
            self._marks[protocol] = self.seen

    def _top(self) -> int:
        maker = sql_state(self.manager).sessionmaker
        assert maker is not None
        with maker() as session:
            return int(
                session.scalar(sa.select(sa.func.max(sync_serial.c.serial))) or 0
            )

    def _local_owner_ids(self) -> list[Any]:
        maker = sql_state(self.manager).sessionmaker
        assert maker is not None
        with maker() as session:
            return list(
                session.scalars(
                    sa.select(SyncOwner.id).where(SyncOwner.dest_hash.is_(None))
                )
            )

    def poll(self) -> int:
        """Push commits made since the last push to each connection; returns how many
        pushes started."""
        top = self._top()
        previous, self.seen = self.seen, max(self.seen, top)
        connections = list(self.manager.connections)
        for protocol in connections:
            self._marks.setdefault(protocol, previous)  # (see the module docstring)
        behind = [
            p
            for p in connections
            if self._marks[p] < self.seen and p not in self._pushing
        ]
        if not behind:
            return 0
        owner_ids = self._local_owner_ids()
        started = 0
        for protocol in behind:
            asked = [o for o in owner_ids if o in _asked(protocol)]
            if not asked:  # its IHave answer has not finished: it covers these
                continue
            self._pushing.add(protocol)
            self.manager.create_task(
                self._push(protocol, asked, self._marks[protocol], self.seen),
                name=f"push to {protocol.dest.name}",
            )
            started += 1
        if started:
            log.info(
                "pushing commits up to serial %d to %d neighbour(s)", self.seen, started
            )
        return started

    async def _push(
        self, protocol: Any, owner_ids: list[Any], since: int, top: int
    ) -> None:
        dest = protocol.dest
        try:
            for owner_id in owner_ids:
                await answer_i_have(self.manager, dest, protocol, owner_id, since)
            self._marks[protocol] = max(self._marks.get(protocol, 0), top)
        except (SyncNotConnected, TransportError) as exc:
            log.info("push to %s ended with its connection: %s", dest.name, exc)
        except sa.exc.DBAPIError as exc:
            if not is_transient(exc):
                raise
            if self.episodes is not None:  # the mark stays: the next poll retries
                self.episodes.failed(exc, f"pushing commits to {dest.name}")
        finally:
            self._pushing.discard(protocol)


def _asked(protocol: Any) -> Any:
    return getattr(protocol.dest, "received_i_have", ())
