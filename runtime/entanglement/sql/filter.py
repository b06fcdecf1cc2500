"""Public path of the SQL filters (a thin re-export, names in ``__all__``).

Filtered destinations for SQL rows (§14 on top of §12): what a peer may hold.

The code lives in :mod:`entanglement.sql.resync.filter` (FilteredSqlSyncDestination in
:mod:`entanglement.sql.resync.destination`, beside the class it extends); this module keeps the public
path ``entanglement.sql.filter`` that applications and generated packages import.
"""

from entanglement.sql.resync.destination import (
    FilteredSqlSyncDestination as FilteredSqlSyncDestination,
)
from entanglement.sql.resync.filter import (
    SqlFilteredMixin as SqlFilteredMixin,
)
from entanglement.sql.resync.filter import (
    SqlFilterPolicy as SqlFilterPolicy,
)
from entanglement.sql.resync.filter import (
    SqlFilterScope as SqlFilterScope,
)
from entanglement.sql.resync.filter import (
    before_catch_up as before_catch_up,
)
from entanglement.sql.resync.filter import (
    filter_scopes as filter_scopes,
)

__all__ = [
    "FilteredSqlSyncDestination",
    "SqlFilterPolicy",
    "SqlFilterScope",
    "SqlFilteredMixin",
    "before_catch_up",
    "filter_scopes",
]
