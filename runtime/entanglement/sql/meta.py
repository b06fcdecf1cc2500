"""Public path; a thin re-export of :mod:`entanglement.sql.resync.meta`.

The SQL meta registry and its messages: MyOwners, IHave, YouHave (PROTOCOL.md §12.8).

The code lives in :mod:`entanglement.sql.resync.meta`; this module keeps the public
path ``entanglement.sql.meta`` that applications and generated packages import.
"""

from entanglement.sql.resync.meta import (
    IHave as IHave,
)
from entanglement.sql.resync.meta import (
    MyOwners as MyOwners,
)
from entanglement.sql.resync.meta import (
    SqlMetaRegistry as SqlMetaRegistry,
)
from entanglement.sql.resync.meta import (
    YouHave as YouHave,
)
from entanglement.sql.resync.meta import (
    sql_meta_registry as sql_meta_registry,
)

__all__ = [
    "IHave",
    "MyOwners",
    "SqlMetaRegistry",
    "YouHave",
    "sql_meta_registry",
]
