"""Public path; a thin re-export of :mod:`entanglement.sql.send.transition`.

Transitions of SQL rows (PROTOCOL.md §15): :class:`SqlTransitionTrackerMixin`.

The code lives in :mod:`entanglement.sql.send.transition`; this module keeps the public
path ``entanglement.sql.transition`` that applications and generated packages import.
"""

from entanglement.sql.send.transition import (
    DirtyTransitionError as DirtyTransitionError,
)
from entanglement.sql.send.transition import (
    SqlTransitionTrackerMixin as SqlTransitionTrackerMixin,
)

__all__ = [
    "DirtyTransitionError",
    "SqlTransitionTrackerMixin",
]
