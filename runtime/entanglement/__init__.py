"""entanglement: an interoperable runtime for the entanglement synchronisation protocol.

This module re-exports the names of §18 of the protocol specification, so scripts written
for the original library run unchanged: the object model, the networking API, and the SQL
layer (importing the package imports the SQL layer, as the original does).  See
``docs/architecture.md`` for the module layout.
"""

from __future__ import annotations

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
