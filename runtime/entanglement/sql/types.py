"""Public path; a thin re-export of :mod:`entanglement.sql.schema.types`.

Column types of the SQL layer: :class:`GUID` and :class:`SqlDestHash` (PROTOCOL.md §12.10).

The code lives in :mod:`entanglement.sql.schema.types`; this module keeps the public
path ``entanglement.sql.types`` that applications and generated packages import.
"""

from entanglement.sql.schema.types import (
    GUID as GUID,
)
from entanglement.sql.schema.types import (
    SqlDestHash as SqlDestHash,
)

__all__ = [
    "GUID",
    "SqlDestHash",
]
