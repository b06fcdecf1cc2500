"""SqlSynchronizable: SQLAlchemy mapped classes that synchronise (PROTOCOL.md §12.2).

Theory of operation
-------------------
:class:`SqlSyncMeta` derives from the object model's ``SynchronizableMeta`` *and*
SQLAlchemy's ``DeclarativeAttributeIntercept``, so both the typed 2.0 spelling
``class Base(SqlSynchronizable, DeclarativeBase)`` and
:func:`~entanglement.sql.base.sql_sync_declarative_base` work.  Before the class is
created it edits the namespace:

1. a base-most mapped class (it names a ``__tablename__`` and no base has a table) gets
   ``sync_serial`` (a sync property) and ``sync_owner_id`` (FK → ``sync_owners.id``, ON
   DELETE CASCADE, indexed) columns and the eager ``sync_owner`` relationship; classes
   with an explicit ``__table__`` must bring the columns themselves;
2. every ``Column`` / ``mapped_column`` not wrapped in ``no_sync_property`` is wrapped in a
   ``sync_property`` (the object model's metaclass then puts the column back before
   SQLAlchemy's declarative scan runs inside ``type.__new__``).

After the class is mapped, annotation-only columns (``x: Mapped[int]``) become sync
properties as well, and every column property without an explicit codec gets the codec of
its column type (:func:`~entanglement.sql.schema.codecs.column_codec`; quirk 28 fixed there).

Fixed quirks: primary keys in a message are *decoded* before the lookup (32); an unknown
``_sync_owner`` is a ``SyncBadOwner`` error sent back (44); a message naming another owner
than the row's is a ``SyncBadEncodingError`` (rows never change owner through messages);
``sync_priority`` puts a child strictly after its parents and SyncOwner first (40).
Deletes carry ``sync_serial`` wherever they are sent or relayed (38): an instance marked
``sync_deleting`` adds it to any attribute subset it is asked for.

Receiving: ``sync_construct`` is :func:`entanglement.sql.schema.construct.construct_row`; a row
stored by the receive batch (:mod:`entanglement.sql.receive.batch`) is filled through its
``__dict__`` when the message names only plain column properties
(:func:`~entanglement.sql.schema.plan.fill_plain`), else through its attributes as any object.
``sync_primary_keys`` is remembered in each mapped class's ``__dict__``.

Layering: this module imports nothing that imports it.  What it needs from the modules
built on it is handed in (:data:`HANDED`): the SyncOwner class (a SqlSynchronizable
itself) by :mod:`entanglement.sql.schema.bookkeeping`, and the bodies of
``sync_construct`` (:mod:`entanglement.sql.schema.construct`) and ``sync_create`` (the
send layer's :mod:`entanglement.sql.send.requests`) by :mod:`entanglement.sql.base`, which
the package's ``__init__`` imports before any submodule runs.

Choice: the ``sync_owner`` relationship loads lazily (the original joins it eagerly).  It
is a many-to-one by primary key, so loading it is an identity-map hit once the few owners
are in the session; a join on every row load would only cost.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, cast

import sqlalchemy as sa
from sqlalchemy.orm import (
    Mapped,
    MappedColumn,
    Mapper,
    mapped_column,
    relationship,
)
from sqlalchemy.orm.decl_api import DeclarativeAttributeIntercept

from entanglement._plan import info_form
from entanglement.interface import (
    NoSyncProperty,
    SyncBadEncodingError,
    Synchronizable,
    SynchronizableMeta,
    SyncProperty,
    Unique,
    sync_property,
)
from entanglement.sql.schema.codecs import column_codec
from entanglement.sql.schema.fill import fill_plain
from entanglement.sql.schema.priority import SyncPriority
from entanglement.sql.schema.tables import sync_owners
from entanglement.sql.schema.types import GUID, as_uuid
from entanglement.types import uuid_decoder, uuid_encoder

if TYPE_CHECKING:
    import asyncio

    from entanglement.sql.schema.bookkeeping import SyncOwner

__all__ = ["HANDED", "SqlSyncMeta", "SqlSynchronizable"]


@dataclass
class _Handed:
    """What the modules built on this one hand in (module docstring, "Layering")."""

    owner_class: type[SyncOwner] | None = None
    construct_row: (
        Callable[[type[Any], dict[str, Any], dict[str, Any]], SqlSynchronizable] | None
    ) = None
    send_create: Callable[[Any, Any, SyncOwner], asyncio.Future[Any]] | None = None


HANDED = _Handed()


def _owner_class() -> type[SyncOwner]:
    # the sync_owner relationship's target, resolved when SQLAlchemy configures mappers
    assert HANDED.owner_class is not None, "entanglement.sql.schema.bookkeeping sets it"
    return HANDED.owner_class


class SqlSyncMeta(SynchronizableMeta, DeclarativeAttributeIntercept):
    """Metaclass of SQL synchronizables: Synchronizable metaclass + declarative."""

    def __new__(
        mcls, name: str, bases: tuple[type, ...], ns: dict[str, Any], **kwargs: Any
    ) -> SqlSyncMeta:
        _wrap_columns(ns)
        if any(b.__name__ in _DECLARATIVE_ROOTS for b in bases):
            ns.setdefault("__abstract__", True)  # the base itself is not a sync type
        if _is_new_mapped_root(bases, ns):
            _add_bookkeeping_columns(ns)
        cls = cast(SqlSyncMeta, super().__new__(mcls, name, bases, ns, **kwargs))
        mapper: Any = sa.inspect(cls, raiseerr=False)
        if isinstance(mapper, Mapper):
            _bind_column_properties(cls, mapper)
        return cls


_DECLARATIVE_ROOTS = frozenset({"DeclarativeBase", "DeclarativeBaseNoMeta"})


def _wrap_columns(ns: dict[str, Any]) -> None:
    for attr, value in list(ns.items()):
        if attr.startswith("__"):
            continue
        if isinstance(value, sa.Column | MappedColumn):
            ns[attr] = SyncProperty(value)


def _is_new_mapped_root(bases: tuple[type, ...], ns: dict[str, Any]) -> bool:
    if ns.get("__abstract__") or "__table__" in ns:
        return False
    if not isinstance(ns.get("__tablename__"), str):
        return False
    return not any(getattr(base, "__table__", None) is not None for base in bases)


def _add_bookkeeping_columns(ns: dict[str, Any]) -> None:
    ns.setdefault(
        "sync_serial",
        SyncProperty(mapped_column(sa.Integer, nullable=False, index=True)),
    )
    ns.setdefault(
        "sync_owner_id",
        mapped_column(
            GUID,
            sa.ForeignKey(sync_owners.c.id, ondelete="CASCADE"),
            index=True,
            nullable=True,
        ),
    )
    # many-to-one by primary key: loading it hits the identity map, where the few
    # owners live, so a join on every row load would only cost
    ns.setdefault("sync_owner", relationship(_owner_class, lazy="select"))


def _bind_column_properties(cls: SqlSyncMeta, mapper: Mapper[Any]) -> None:
    declared: dict[str, SyncProperty | NoSyncProperty] = vars(cls)["_sync_declared"]
    hidden = _hidden_names(cls)
    for column_prop in mapper.column_attrs:
        key = column_prop.key
        if key == "sync_owner_id" or key in hidden:
            continue
        prop = cls._sync_properties.get(key)
        if prop is None:
            prop = SyncProperty()
            prop.bind(key, cls)
            declared[key] = prop
        if prop.encoderfn is None and prop.decoderfn is None:
            codec = column_codec(column_prop.columns[0].type)
            if codec is not None:
                prop.encoderfn, prop.decoderfn = codec.encoder, codec.decoder
                prop.bind(key, prop.declaring_class or cls, prop.annotation)
    type.__setattr__(cls, "_sync_properties", _merge(cls))


def _hidden_names(cls: type) -> set[str]:
    # a no_sync_property anywhere in the MRO hides the column unless a more derived
    # class declares a sync_property of that name again
    seen: dict[str, object] = {}
    for klass in cls.__mro__:
        for name, prop in vars(klass).get("_sync_declared", {}).items():
            seen.setdefault(name, prop)
    return {n for n, p in seen.items() if isinstance(p, NoSyncProperty)}


def _merge(cls: type) -> dict[str, SyncProperty]:
    seen: dict[str, SyncProperty | NoSyncProperty] = {}
    for klass in cls.__mro__:
        for name, prop in vars(klass).get("_sync_declared", {}).items():
            seen.setdefault(name, prop)
    return {n: p for n, p in seen.items() if isinstance(p, SyncProperty)}


class _SqlPrimaryKeys:
    # sync_primary_keys of a mapped class: the keys of its mapped primary-key columns
    # (fixed once the class is mapped, and read for every message: remembered in the
    # class's own __dict__, set with type.__setattr__ so that the declarative
    # metaclass does not take it for a new attribute)
    def __get__(self, obj: object, owner: type | None = None) -> tuple[str, ...] | str:
        cls = owner if owner is not None else type(obj)
        names: tuple[str, ...] | None = cls.__dict__.get("_sync_pk_names")
        if names is not None:
            return names
        mapper: Any = sa.inspect(cls, raiseerr=False)
        if not isinstance(mapper, Mapper):
            return Unique
        names = tuple(mapper.get_property_by_column(c).key for c in mapper.primary_key)
        type.__setattr__(cls, "_sync_pk_names", names)
        return names


def _get_owner_id(self: SqlSynchronizable) -> uuid.UUID:
    owner = self.sync_owner
    if owner is not None:
        return owner.id
    if self.sync_owner_id is not None:
        return self.sync_owner_id
    raise AttributeError("no owner")  # omitted from to_sync (legacy ownerless rows)


def _set_owner_id(self: SqlSynchronizable, value: Any) -> None:
    new = as_uuid(value)
    try:
        current: uuid.UUID | None = _get_owner_id(self)
    except AttributeError:
        current = None
    if current is None:
        self.sync_owner_id = new
    elif current != new:
        raise SyncBadEncodingError(
            f"{self.sync_type} is owned by {current}; a message cannot change its owner"
            f" to {new}"
        )


class SqlSynchronizable(Synchronizable, metaclass=SqlSyncMeta):
    """A SQLAlchemy mapped class that synchronises; every column is a sync property.

    Wrap a column in ``no_sync_property`` to keep it local.  Rows get ``sync_serial``,
    ``sync_owner_id`` and the ``sync_owner`` relationship automatically.
    """

    __abstract__ = True

    if TYPE_CHECKING:
        sync_serial: Mapped[int]
        sync_owner_id: Mapped[uuid.UUID | None]
        sync_owner: Mapped[SyncOwner | None]
        sync_future: asyncio.Future[Any] | None

    sync_deleting: ClassVar[bool] = False
    # a message naming properties this class does not know: "refuse" it, or
    # "store_rest" (see entanglement.sql.schema.construct)
    sync_unknown_properties: ClassVar[str] = "refuse"

    _sync_owner = sync_property(
        property(_get_owner_id, _set_owner_id),
        encoder=uuid_encoder,
        decoder=uuid_decoder,
    )

    def to_sync(self, attributes: Any = None) -> dict[str, Any]:
        """Encode the object; a deleted row sends ``sync_serial`` with its keys (quirk 38)."""
        if attributes and self.sync_deleting:
            attributes = {*attributes, "sync_serial"}
        return super().to_sync(attributes)

    @info_form("_fill_info")
    def sync_receive_constructed(self, msg: dict[str, Any], **info: Any) -> None:
        """Fill this row from ``msg`` (the object model's rules and errors).

        A batched row (it never joins a session, see :mod:`entanglement.sql.receive.batch`)
        whose message names only plain column properties that all decode is filled
        through its ``__dict__``; anything else takes the object model's path, which
        assigns through the attributes and raises the errors.
        """
        self._fill_info(msg, info)

    def _fill_info(self, msg: dict[str, Any], info: dict[str, Any]) -> None:
        # (the info-dict form a receive plan calls, entanglement._plan.info_form)
        context = info.get("context")
        if getattr(context, "batch", None) is not None and fill_plain(self, msg):
            return
        super().sync_receive_constructed(msg, **info)

    @classmethod
    @info_form("_construct_info")
    def sync_construct(cls, msg: dict[str, Any], **info: Any) -> SqlSynchronizable:
        """Find the row named by ``msg`` in the context session, or make a new one.

        Raises:
            SyncBadEncodingError: a primary key is missing (except for ``create``) or
                cannot be decoded, or the message names another owner than the row's.
            SyncBadOwner: ``_sync_owner`` is missing or names an unknown owner.
        """
        return cls._construct_info(msg, info)

    @classmethod
    def _construct_info(
        cls, msg: dict[str, Any], info: dict[str, Any]
    ) -> SqlSynchronizable:
        # (the info-dict form a receive plan calls, entanglement._plan.info_form)
        construct_row = HANDED.construct_row
        assert construct_row is not None, "entanglement.sql.base hands it in"
        return construct_row(cls, msg, info)

    def sync_create(self, manager: Any, owner: SyncOwner) -> asyncio.Future[Any]:
        """Ask ``owner`` (a remote owner) to create this object.

        Args:
            manager: the SyncManager to send through.
            owner: the SyncOwner that should own the new row.

        Returns:
            A future: the created object as the owner sent it back, or an error.
        """
        send_create = HANDED.send_create
        assert send_create is not None, "entanglement.sql.base hands it in"
        return send_create(manager, self, owner)


type.__setattr__(SqlSynchronizable, "sync_primary_keys", _SqlPrimaryKeys())
type.__setattr__(SqlSynchronizable, "sync_priority", SyncPriority())
