"""Pushing rows that other processes committed to the database (used by ``entanglegen node``).

A node process does not see commits made by applications through their own engines, so
no flood follows them.  :class:`CommitWatcher` notices them by the highest allocated
serial (serials become visible in commit order, see :mod:`entanglement.sql.serials`)
and, for every live neighbour that has asked for a local owner (IHave), sends what is
newer than the last serial it pushed, exactly like an IHave answer (tombstones, rows,
then YouHave).
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from entanglement.sql.answer import answer_i_have
from entanglement.sql.bookkeeping import SyncOwner
from entanglement.sql.state import sql_state
from entanglement.sql.tables import sync_serial

__all__ = ["CommitWatcher"]

log = logging.getLogger("entanglement")


class CommitWatcher:
    """Remembers the last serial seen; :meth:`poll` pushes anything newer."""

    def __init__(self, manager: Any) -> None:
        self.manager = manager
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
        since, self.seen = self.seen, top
        started = 0
        for owner_id in self._local_owner_ids():
            for protocol in self.manager.connections:
                dest = protocol.dest
                if owner_id not in getattr(dest, "received_i_have", ()):
                    continue
                self.manager.create_task(
                    answer_i_have(self.manager, dest, protocol, owner_id, since),
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
