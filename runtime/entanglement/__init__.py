"""entanglement: an interoperable runtime for the entanglement synchronisation protocol.

This module re-exports the names of §18 of the protocol specification, so scripts written
for the original library run unchanged: the object model, the networking API, and the SQL
layer.  See ``docs/architecture.md`` for the module layout.

Choice: the SQL names (``SqlSynchronizable``, ``SyncOwner`` ...) and the ``sql``
sub-package are imported on first use (PEP 562 ``__getattr__``), not with the package
as the original does.  ``from entanglement import SqlSyncRegistry`` and
``entanglement.sql`` work as before; an in-memory application no longer loads
SQLAlchemy (a third of a second at start-up, and some 58,000 objects that every full
garbage collection of the node would traverse).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

from ._exceptions import EntanglementError
from ._hashes import CertHash, DestHash, certhash_from_file
from .interface import (
    EphemeralUnflooded,
    SyncBadEncodingError,
    SyncBadOwner,
    SyncError,
    Synchronizable,
    SyncInvalidOperation,
    SyncNotConnected,
    SyncNotFound,
    SyncRegistry,
    SyncUnauthorized,
    Unique,
    UnregisteredSyncClass,
    WrongSyncDestination,
    no_sync_property,
    sync_property,
)
from .network import (
    OutgoingUnixDestination,
    SyncDestination,
    SyncDestinationBase,
    SyncManager,
    SyncServer,
)

if TYPE_CHECKING:
    from .sql import (
        SqlSyncDestination,
        SqlSynchronizable,
        SqlSyncRegistry,
        SqlSyncSession,
        SyncOwner,
        sql_sync_declarative_base,
        sync_manager_destinations,
        sync_session_maker,
    )

_SQL_NAMES: Final = frozenset(
    {
        "SqlSyncDestination",
        "SqlSynchronizable",
        "SqlSyncRegistry",
        "SqlSyncSession",
        "SyncOwner",
        "sql_sync_declarative_base",
        "sync_manager_destinations",
        "sync_session_maker",
    }
)


def __getattr__(name: str) -> Any:
    # The SQL layer, loaded the first time one of its names is asked for.
    if name in _SQL_NAMES or name == "sql":
        sql = importlib.import_module(".sql", __name__)
        return sql if name == "sql" else getattr(sql, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_SQL_NAMES, "sql"})


__all__ = [
    "CertHash",
    "DestHash",
    "EntanglementError",
    "EphemeralUnflooded",
    "OutgoingUnixDestination",
    "SqlSyncDestination",
    "SqlSyncRegistry",
    "SqlSyncSession",
    "SqlSynchronizable",
    "SyncBadEncodingError",
    "SyncBadOwner",
    "SyncDestination",
    "SyncDestinationBase",
    "SyncError",
    "SyncInvalidOperation",
    "SyncManager",
    "SyncNotConnected",
    "SyncNotFound",
    "SyncOwner",
    "SyncRegistry",
    "SyncServer",
    "SyncUnauthorized",
    "Synchronizable",
    "Unique",
    "UnregisteredSyncClass",
    "WrongSyncDestination",
    "certhash_from_file",
    "no_sync_property",
    "sql_sync_declarative_base",
    "sync_manager_destinations",
    "sync_property",
    "sync_session_maker",
]
