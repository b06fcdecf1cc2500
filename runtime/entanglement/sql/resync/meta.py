"""The SQL meta registry: where MyOwners, IHave, YouHave and SyncOwner live (§12.8).

``SyncOwner`` (sync, delete), ``MyOwners`` (sync), ``IHave`` (forward) and ``YouHave``
(sync) live in :data:`sql_meta_registry`, which every SqlSyncRegistry inherits.  Only
SyncOwner accepts ``delete`` (``SyncUnauthorized`` otherwise).

The message classes are in :mod:`entanglement.sql.schema.messages` (the send flow builds
YouHaves); this module attaches them to the registry, so it is imported before any of
them is sent or received: the package's ``__init__`` imports it (through
:mod:`entanglement.sql.base`), and Python runs that ``__init__`` before any submodule.
The handlers (``incoming_*``) are in :mod:`entanglement.sql.resync.exchange`.
"""

from __future__ import annotations

from typing import Any

from entanglement.interface import SyncRegistry, SyncUnauthorized
from entanglement.operations import delete, forward, sync
from entanglement.sql.receive.batch import flush_batch
from entanglement.sql.receive.registry import SqlSyncRegistry, receive_context
from entanglement.sql.resync import exchange
from entanglement.sql.schema.bookkeeping import SyncOwner
from entanglement.sql.schema.messages import IHave, MyOwners, YouHave
from entanglement.sql.schema.state import sql_state

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
        flush_batch(
            info["manager"]
        )  # owners and serials come after the rows they cover
        maker = sql_state(info["manager"]).sessionmaker
        if maker is None:
            raise SyncUnauthorized("this manager has no SQL registry")
        return receive_context(maker)

    def incoming_sync(self, obj: Any, **info: Any) -> None:
        """SyncOwner, YouHave or MyOwners from a neighbour."""
        exchange.incoming_sync(obj, **info)

    def incoming_forward(self, obj: Any, **info: Any) -> None:
        """An IHave: answer it in the background."""
        exchange.incoming_i_have(obj, **info)

    def incoming_delete(self, obj: Any, **info: Any) -> None:
        """A SyncOwner's deletion from its direction."""
        exchange.incoming_owner_delete(obj, **info)


sql_meta_registry = SqlMetaRegistry()
for _cls in (SyncOwner, IHave, YouHave, MyOwners):
    type(_cls).sync_registry.fset(_cls, sql_meta_registry)  # type: ignore[attr-defined]
SqlSyncRegistry.inherited_registries = [sql_meta_registry]
