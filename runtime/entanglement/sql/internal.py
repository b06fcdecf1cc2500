"""Internal names of the SQL layer kept at the original's module path.

``_SqlMetaRegistry`` is the class of the registry every SqlSyncRegistry inherits
(``inherited_registries``); the resync messages live there too.  ``sql_meta_messages`` is
the original's name of that registry instance (``sql_meta_registry`` here).
"""

from entanglement.sql.resync.meta import IHave, MyOwners, YouHave, sql_meta_registry
from entanglement.sql.resync.meta import SqlMetaRegistry as _SqlMetaRegistry

__all__ = [
    "IHave",
    "MyOwners",
    "YouHave",
    "_SqlMetaRegistry",
    "sql_meta_messages",
    "sql_meta_registry",
]

sql_meta_messages = sql_meta_registry
