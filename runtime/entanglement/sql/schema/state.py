"""Per-manager state of the SQL layer, kept beside the manager (not on it).

* the sessionmaker the SQL registries share (the first SQL registry's, quirk 25 kept: one
  database per manager);
* ``outgoing_serial`` per local owner: the highest serial committed and announced.  It is
  kept here, not on whichever SyncOwner instance happens to be loaded (quirk 45);
* ``batch``: the received rows waiting for their commit (:mod:`entanglement.sql.receive.batch`).

A ``WeakKeyDictionary`` ties the state's lifetime to the manager's.
"""

from __future__ import annotations

import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import sessionmaker

__all__ = ["SqlManagerState", "sql_state"]


@dataclass
class SqlManagerState:
    """What the SQL layer remembers about one manager."""

    sessionmaker: sessionmaker[Any] | None = None
    outgoing_serial: dict[uuid.UUID, int] = field(default_factory=dict)
    batch: Any = None


_states: weakref.WeakKeyDictionary[Any, SqlManagerState] = weakref.WeakKeyDictionary()


def sql_state(manager: Any) -> SqlManagerState:
    """The SQL state of ``manager`` (created on first use)."""
    state = _states.get(manager)
    if state is None:
        state = SqlManagerState()
        _states[manager] = state
    return state
