"""The SQL layer of entanglement (PROTOCOL.md §12): SQLAlchemy models that synchronise.

See :mod:`entanglement.sql.base` for the public names.
"""

from entanglement.sql.base import (
    GUID,
    IHave,
    MyOwners,
    Serial,
    SqlDestHash,
    SqlSyncDestination,
    SqlSyncError,
    SqlSynchronizable,
    SqlSyncMeta,
    SqlSyncRegistry,
    SqlSyncSession,
    SyncDeleted,
    SyncOwner,
    YouHave,
    get_or_create,
    migration_naming_convention,
    sql_meta_registry,
    sql_sync_declarative_base,
    sync_manager_destinations,
    sync_session_maker,
)

__all__ = [
    "GUID",
    "IHave",
    "MyOwners",
    "Serial",
    "SqlDestHash",
    "SqlSyncDestination",
    "SqlSyncError",
    "SqlSyncMeta",
    "SqlSyncRegistry",
    "SqlSyncSession",
    "SqlSynchronizable",
    "SyncDeleted",
    "SyncOwner",
    "YouHave",
    "get_or_create",
    "migration_naming_convention",
    "sql_meta_registry",
    "sql_sync_declarative_base",
    "sync_manager_destinations",
    "sync_session_maker",
]
