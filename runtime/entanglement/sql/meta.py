"""The SQL meta registry and its messages: MyOwners, IHave, YouHave (PROTOCOL.md §12.8).

``SyncOwner`` (sync, delete), ``MyOwners`` (sync), ``IHave`` (forward) and ``YouHave``
(sync) live in :data:`sql_meta_registry`, which every SqlSyncRegistry inherits.
IHave/YouHave name their owner in ``_sync_owner`` and go through the ordinary ownership
checks against that owner; received ones are never sent on (their ``sync_should_send``
refuses anything not generated here).  Naming an owner unknown here is a
``SyncBadEncodingError`` ("synchronize the owner first").  Only SyncOwner accepts
``delete`` (``SyncUnauthorized`` otherwise).

The handlers (``incoming_*``) are in :mod:`entanglement.sql.resync`.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from entanglement.interface import (
    SyncBadEncodingError,
    Synchronizable,
    SyncRegistry,
    SyncUnauthorized,
    Unique,
    sync_property,
)
from entanglement.operations import delete, forward, sync
from entanglement.sql.bookkeeping import SyncOwner
from entanglement.sql.registry import SqlSyncRegistry
from entanglement.sql.types import as_uuid

__all__ = ["IHave", "MyOwners", "SqlMetaRegistry", "YouHave", "sql_meta_registry"]


class SqlMetaRegistry(SyncRegistry):
    """Registry of the resynchronisation messages (inherited by SQL registries)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_operation("sync", sync)
        self.register_operation("forward", forward)
        self.register_operation("delete", delete)

    def should_listen(self, msg: dict[str, Any], cls: type, **info: Any) -> bool:
        """Only SyncOwner may be deleted."""
        if info.get("operation") == "delete" and not issubclass(cls, SyncOwner):
            raise SyncUnauthorized(f"{msg.get('_sync_type')} does not accept delete")
        return True

    def sync_context(self, **info: Any) -> Any:
        """A fresh session of the manager's SQL database (see SqlSyncRegistry)."""
        from entanglement.sql.batch import flush_batch
        from entanglement.sql.registry import receive_context
        from entanglement.sql.state import sql_state

        flush_batch(
            info["manager"]
        )  # owners and serials come after the rows they cover
        maker = sql_state(info["manager"]).sessionmaker
        if maker is None:
            raise SyncUnauthorized("this manager has no SQL registry")
        return receive_context(maker)

    def incoming_sync(self, obj: Any, **info: Any) -> None:
        """SyncOwner, YouHave or MyOwners from a neighbour."""
        from entanglement.sql import resync

        resync.incoming_sync(obj, **info)

    def incoming_forward(self, obj: Any, **info: Any) -> None:
        """An IHave: answer it in the background."""
        from entanglement.sql import resync

        resync.incoming_i_have(obj, **info)

    def incoming_delete(self, obj: Any, **info: Any) -> None:
        """A SyncOwner's deletion from its direction."""
        from entanglement.sql import resync

        resync.incoming_owner_delete(obj, **info)


sql_meta_registry = SqlMetaRegistry()
type(SyncOwner).sync_registry.fset(SyncOwner, sql_meta_registry)  # type: ignore[attr-defined]
SqlSyncRegistry.inherited_registries = [sql_meta_registry]


def _owner_id(self: _OwnerMessage) -> str:
    return str(self.sync_owner.id)


def _no_set(self: _OwnerMessage, value: Any) -> None:
    raise AttributeError("the owner of an IHave/YouHave is set on construction")


class _OwnerMessage(Synchronizable):
    """A serial about one owner (base of IHave and YouHave)."""

    __abstract__ = True
    sync_primary_keys = ("serial", "_sync_owner")
    sync_priority: ClassVar[int] = 1000  # after the rows they describe

    serial = sync_property(encoder=int, decoder=int)
    _sync_owner = sync_property(property(_owner_id, _no_set))

    def __init__(self, serial: int = 0, owner: SyncOwner | None = None) -> None:
        self.serial = serial
        self.sync_owner = owner
        self.generated_here = owner is not None

    @classmethod
    def sync_construct(cls, msg: dict[str, Any], **info: Any) -> _OwnerMessage:
        """Resolve the owner in the context session (it must be known here)."""
        session = info["context"].session
        text = msg.get("_sync_owner")
        try:
            owner = session.get(SyncOwner, as_uuid(text)) if text is not None else None
        except ValueError:
            owner = None
        if owner is None:
            raise SyncBadEncodingError(
                f"{cls.sync_type} names unknown owner {text!r}: synchronize the owner"
                " first",
                network_msg=dict(msg),
            )
        obj = cls()
        obj.sync_owner = owner
        info["context"].owner = owner
        return obj

    def sync_should_send(self, destination: Any = None, **info: Any) -> bool:
        """Only messages generated here are sent (received ones are never relayed)."""
        return self.generated_here


class IHave(_OwnerMessage):
    """ "I have everything of this owner up to ``serial``" (sent as ``forward``)."""

    sync_registry = sql_meta_registry


class YouHave(_OwnerMessage):
    """ "You now have everything of this owner up to ``serial``" (sent as ``sync``)."""

    sync_registry = sql_meta_registry


class MyOwners(Synchronizable):
    """The owners a neighbour provides; owners learned from it and missing are gone."""

    sync_registry = sql_meta_registry
    sync_primary_keys = Unique
    owners = sync_property()

    def __init__(self, owners: list[str] | None = None) -> None:
        self.owners = owners if owners is not None else []

    def owner_ids(self) -> set[uuid.UUID]:
        """The listed owner ids (malformed entries are a SyncBadEncodingError)."""
        try:
            return {as_uuid(text) for text in self.owners or []}
        except (ValueError, TypeError) as exc:
            raise SyncBadEncodingError(f"MyOwners: {exc}") from exc
