"""Pushing rows that other processes committed to the database (used by ``entanglegen node``).

A node process does not see commits made by applications through their own engines, so
no flood follows them.  :class:`CommitWatcher` notices them by the highest allocated
serial (serials become visible in commit order, see :mod:`entanglement.sql.serials`)
and, for every live neighbour that has asked for a local owner (IHave), sends what is
newer than the last serial it pushed, exactly like an IHave answer (tombstones, rows,
then YouHave).

Database faults: :meth:`CommitWatcher.poll` moves its mark only after the reads it
needs have succeeded, and a push that fails on a transient fault (a locked database,
see :mod:`entanglement.sql.transient`) moves the mark back to where that push started,
so the next poll sends the range again instead of losing it.  Such a push failure is
recorded on the watcher's :class:`~entanglement.sql.transient.FaultEpisodes` (one line
per episode) rather than logged as a failed task with a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from entanglement.sql.answer import answer_i_have
from entanglement.sql.bookkeeping import SyncOwner
from entanglement.sql.state import sql_state
from entanglement.sql.tables import sync_serial
from entanglement.sql.transient import FaultEpisodes, is_transient

__all__ = ["CommitWatcher"]

log = logging.getLogger("entanglement")


class CommitWatcher:
    """Remembers the last serial seen; :meth:`poll` pushes anything newer."""

    def __init__(self, manager: Any, episodes: FaultEpisodes | None = None) -> None:
        self.manager = manager
        self.episodes = episodes
        self.seen = self._top()

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
        """Push commits made since the last poll; returns how many pushes started."""
        top = self._top()
        if top <= self.seen:
            return 0
        owner_ids = self._local_owner_ids()
        since, self.seen = self.seen, top
        started = 0
        for owner_id in owner_ids:
            for protocol in self.manager.connections:
                dest = protocol.dest
                if owner_id not in getattr(dest, "received_i_have", ()):
                    continue
                self.manager.create_task(
                    self._push(dest, protocol, owner_id, since),
                    name=f"push to {dest.name}",
                )
                started += 1
        log.info(
            "pushing commits after serial %d (up to %d) to %d neighbour(s)",
            since,
            top,
            started,
        )
        return started

    async def _push(self, dest: Any, protocol: Any, owner_id: Any, since: int) -> None:
        try:
            await answer_i_have(self.manager, dest, protocol, owner_id, since)
        except sa.exc.DBAPIError as exc:
            if not is_transient(exc):
                raise
            self.seen = min(self.seen, since)  # the next poll sends this range again
            if self.episodes is not None:
                self.episodes.failed(exc, f"pushing commits to {dest.name}")
