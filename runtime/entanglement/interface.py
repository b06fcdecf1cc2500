"""The object model of entanglement (§6, §8, §10.1): the public face of its parts.

* :mod:`entanglement._properties`: ``sync_property`` / ``no_sync_property`` declarations;
* :mod:`entanglement._model`: ``SynchronizableMeta``, ``Synchronizable``, ``Unique``,
  ``EphemeralUnflooded``, ``overrides_sync_receive``;
* :mod:`entanglement._registry`: ``SyncRegistry``;
* :mod:`entanglement._wire_errors`: the ``SyncError`` tree and the built-in ``error_registry``.

Seams other layers rely on (see each module's docstring for details):

* ``cls._sync_properties``: the effective properties of a class, an ordered dict name →
  :class:`SyncProperty` (subclass first; ``no_sync_property`` hides inherited names).
  ``prop.encode(value)`` / ``prop.decode(json)`` apply the property's codec.
* A metaclass combining ``SynchronizableMeta`` with SQLAlchemy's declarative metaclass
  may put ``SyncProperty(column)`` objects into the class namespace before calling
  ``super().__new__``: they are collected and the columns put back before SQLAlchemy
  scans the class.  A class whose own namespace sets ``__abstract__ = True`` is not
  registered in its registry.
* ``overrides_sync_receive(cls)`` tells ``synchronize`` to refuse a class (§7.1).
* ``error_registry`` must be among every manager's registries (§6.1).
"""

from __future__ import annotations

from ._model import (
    EphemeralUnflooded,
    OwnerLike,
    Synchronizable,
    SynchronizableMeta,
    Unique,
    overrides_sync_receive,
)
from ._properties import NoSyncProperty, SyncProperty, no_sync_property, sync_property
from ._registry import SyncRegistry
from ._wire_errors import (
    ErrorRegistry,
    SyncBadEncodingError,
    SyncBadOwner,
    SyncError,
    SyncInvalidOperation,
    SyncNotConnected,
    SyncNotFound,
    SyncUnauthorized,
    UnregisteredSyncClass,
    WrongSyncDestination,
    describe_destination,
    error_registry,
)

__all__ = [
    "EphemeralUnflooded",
    "ErrorRegistry",
    "NoSyncProperty",
    "OwnerLike",
    "SyncBadEncodingError",
    "SyncBadOwner",
    "SyncError",
    "SyncInvalidOperation",
    "SyncNotConnected",
    "SyncNotFound",
    "SyncProperty",
    "SyncRegistry",
    "SyncUnauthorized",
    "Synchronizable",
    "SynchronizableMeta",
    "Unique",
    "UnregisteredSyncClass",
    "WrongSyncDestination",
    "describe_destination",
    "error_registry",
    "no_sync_property",
    "overrides_sync_receive",
    "sync_property",
]
