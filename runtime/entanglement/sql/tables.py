"""Public path; a thin re-export of :mod:`entanglement.sql.schema.tables`.

The bookkeeping tables of the SQL layer (PROTOCOL.md §12.1), as SQLAlchemy Core tables.

The code lives in :mod:`entanglement.sql.schema.tables`; this module keeps the public
path ``entanglement.sql.tables`` that applications and generated packages import.
"""

from entanglement.sql.schema.tables import (
    bookkeeping_metadata as bookkeeping_metadata,
)
from entanglement.sql.schema.tables import (
    migration_naming_convention as migration_naming_convention,
)
from entanglement.sql.schema.tables import (
    sync_deleted as sync_deleted,
)
from entanglement.sql.schema.tables import (
    sync_destinations as sync_destinations,
)
from entanglement.sql.schema.tables import (
    sync_owners as sync_owners,
)
from entanglement.sql.schema.tables import (
    sync_serial as sync_serial,
)
from entanglement.sql.schema.tables import (
    utcnow as utcnow,
)

__all__ = [
    "bookkeeping_metadata",
    "migration_naming_convention",
    "sync_deleted",
    "sync_destinations",
    "sync_owners",
    "sync_serial",
    "utcnow",
]
