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
from ._wire_errors import *  # noqa: F403  (the SyncError tree: its __all__ below)
from ._wire_errors import __all__ as _wire_errors_all

__all__ = [
    "EphemeralUnflooded",
    "NoSyncProperty",
    "OwnerLike",
    "SyncProperty",
    "SyncRegistry",
    "Synchronizable",
    "SynchronizableMeta",
    "Unique",
    "no_sync_property",
    "overrides_sync_receive",
    "sync_property",
]
__all__ += _wire_errors_all  # the SyncError tree, re-exported whole
