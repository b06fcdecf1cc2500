"""entanglement: an interoperable runtime for the entanglement synchronisation protocol.

This module re-exports the object model (the network and SQL names are added when those
layers are wired in).  See ``docs/architecture.md`` for the module layout.
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

__all__ = [
    "CertHash",
    "DestHash",
    "EntanglementError",
    "EphemeralUnflooded",
    "SyncBadEncodingError",
    "SyncBadOwner",
    "SyncError",
    "SyncInvalidOperation",
    "SyncNotConnected",
    "SyncNotFound",
    "SyncRegistry",
    "SyncUnauthorized",
    "Synchronizable",
    "Unique",
    "UnregisteredSyncClass",
    "WrongSyncDestination",
    "certhash_from_file",
    "no_sync_property",
    "sync_property",
]
