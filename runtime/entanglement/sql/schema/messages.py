"""The resynchronisation messages: MyOwners, IHave, YouHave (PROTOCOL.md §12.8).

IHave/YouHave name their owner in ``_sync_owner`` and go through the ordinary ownership
checks against that owner; received ones are never sent on (their ``sync_should_send``
refuses anything not generated here).  Naming an owner unknown here is a
``SyncBadEncodingError`` ("synchronize the owner first").

They are schema-level classes (they import only the bookkeeping), so that the send
flow (:mod:`entanglement.sql.send.announce`) can build a YouHave without importing the
resync layer.  Their registry, :data:`entanglement.sql.resync.meta.sql_meta_registry`,
is attached to them where it is made (the handlers it calls are in the resync layer).
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from entanglement.interface import (
    SyncBadEncodingError,
    Synchronizable,
    Unique,
    sync_property,
)
from entanglement.sql.schema.bookkeeping import SyncOwner
from entanglement.sql.schema.types import as_uuid

__all__ = ["IHave", "MyOwners", "YouHave"]


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


class YouHave(_OwnerMessage):
    """ "You now have everything of this owner up to ``serial``" (sent as ``sync``)."""


class MyOwners(Synchronizable):
    """The owners a neighbour provides; owners learned from it and missing are gone."""

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
