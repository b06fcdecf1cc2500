"""The public names of the SQL layer (API.md ``entanglement.sql.base``) and helpers.

``sql_sync_declarative_base`` builds a ``DeclarativeBase`` subclass whose metaclass is
:class:`SqlSyncMeta`; the typed spelling ``class Base(SqlSynchronizable,
DeclarativeBase)`` with ``sync_registry = registry`` is equivalent.  The entanglement
registry of a base made by the factory is its ``sync_registry``; it is also reachable as
``Base.registry`` *after* SQLAlchemy has set the base up, as in the original (SQLAlchemy
keeps its own registry in ``Base._sa_registry``, which it uses from then on).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapper, Session

from entanglement.sql.receive.registry import SqlSyncError, SqlSyncRegistry
from entanglement.sql.resync.destination import (
    SqlSyncDestination,
    sync_manager_destinations,
)
from entanglement.sql.resync.meta import IHave, MyOwners, YouHave, sql_meta_registry
from entanglement.sql.schema import construct
from entanglement.sql.schema.bookkeeping import Serial, SyncDeleted, SyncOwner
from entanglement.sql.schema.model import HANDED, SqlSynchronizable, SqlSyncMeta
from entanglement.sql.schema.tables import migration_naming_convention
from entanglement.sql.schema.types import GUID, SqlDestHash
from entanglement.sql.send import requests
from entanglement.sql.send.session import SqlSyncSession, sync_session_maker

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


# The bodies of SqlSynchronizable.sync_construct and sync_create live in modules that
# import the model; they are handed to it here, where every layer is loaded (the
# package's __init__ imports this module before any submodule runs).
HANDED.construct_row = construct.construct_row
HANDED.send_create = requests.send_create


def sql_sync_declarative_base(
    *args: Any,
    registry: Any = None,
    registry_class: type[SqlSyncRegistry] = SqlSyncRegistry,
    cls: type | None = None,
    name: str = "Base",
    metadata: sa.MetaData | None = None,
    **kwargs: Any,
) -> Any:
    """Return a declarative base whose classes are SqlSynchronizables.

    Args:
        registry: the entanglement registry of the classes (default: a new
            ``registry_class()``).
        registry_class: the registry class to instantiate when none is given.
        cls: an extra mixin for every class of the base.
        name: the base class's name.
        metadata: the MetaData to use (default: a new one).

    Returns:
        The base class.
    """
    if args or kwargs:
        raise TypeError(
            f"unsupported arguments {args!r} {sorted(kwargs)!r} (use registry, "
            "registry_class, cls, name, metadata)"
        )
    sync_registry = registry if registry is not None else registry_class()
    bases: tuple[type, ...] = (SqlSynchronizable, DeclarativeBase)
    if cls is not None:
        bases = (cls, *bases)
    ns: dict[str, Any] = {"sync_registry": sync_registry, "__module__": __name__}
    if metadata is not None:
        ns["metadata"] = metadata
    base = SqlSyncMeta(name, bases, ns)
    type.__setattr__(base, "registry", sync_registry)
    return base


def get_or_create(
    session: Session,
    model: type[Any],
    filter_by: dict[str, Any],
    defaults: dict[str, Any] | None = None,
) -> Any:
    """Return the row matching ``filter_by``, or a new one added to the session.

    A filter that is exactly the primary key uses ``session.get``; otherwise the first
    matching row.  A new object gets ``filter_by`` and ``defaults`` and is added (no flush).
    """
    mapper: Mapper[Any] = sa.inspect(model)
    pk_names = [mapper.get_property_by_column(c).key for c in mapper.primary_key]
    if set(filter_by) == set(pk_names):
        found = session.get(model, tuple(filter_by[n] for n in pk_names))
    else:
        found = session.scalars(
            sa.select(model).filter_by(**filter_by).limit(1)
        ).first()
    if found is not None:
        return found
    obj = model(**{**(defaults or {}), **filter_by})
    session.add(obj)
    return obj
