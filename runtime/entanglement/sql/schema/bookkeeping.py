"""ORM classes of the bookkeeping tables: Serial, SyncOwner, SyncDeleted (PROTOCOL.md §12.3).

``SyncOwner`` is itself synchronised (meta registry) with the wire form ``{"id", "type",
"epoch", "sync_serial", "_sync_owner"}``; ``epoch`` reads ``outgoing_epoch`` and writes
``incoming_epoch``.

Choices and fixed quirks:

* An epoch that differs from the stored ``incoming_epoch`` (always so for a new row) resets
  ``incoming_serial`` to 0 and flags the row :attr:`SyncOwner.clear_requested`; the meta
  registry then really discards the owner's rows and commits (quirk 35).
* ``outgoing_serial`` is not kept on instances (quirk 45) but per manager, see
  :mod:`entanglement.sql.schema.state`; the attribute here reads that store.
* :meth:`SyncOwner.clear_all_objects` deletes through the ORM (joined inheritance and
  foreign keys between tables are handled by the unit of work), classes with the highest
  priority (children) first, without tombstones or messages.

Deleting a ``SyncOwner`` (the spec is silent; issue 10 items 3 and 4): the owner and
everything it owns are gone, as the schema's ``ON DELETE CASCADE`` says, on every backend
(SQLite enforces foreign keys only when asked, and databases created by the original's
migration have no cascade on ``sync_deleted``).  The flush that deletes an owner first
deletes its tombstones and its rows in every mapped SqlSynchronizable table present in
the database (:func:`~entanglement.sql.schema.forget.forget_owner`, Core statements:
nothing is loaded): no tombstones for them (a neighbour forgets them
with the owner, as with any cleared owner, §12.3 and quirk 37), and the session's
objects of that owner are expunged.  An owner of ours deleted in a session with a
manager is then flooded as ``delete`` of the SyncOwner (a neighbour that misses it
learns it from ``MyOwners`` on its next connection).  An owner learned from a neighbour
may be deleted locally only without a manager (the library's own "forget this owner"
paths); a managed session refuses it with ``SyncUnauthorized`` at commit, and
``sync_commit()`` fails the owner's ``sync_future`` with it: there is no request asking
another node to delete its owner, and ``SqlSyncDestination.clear_all_objects`` is the
way to forget a neighbour's owners.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, relationship
from sqlalchemy.orm.attributes import set_committed_value

from entanglement._hashes import DestHash
from entanglement.interface import (
    SyncBadOwner,
    Synchronizable,
    SyncNotFound,
    SyncUnauthorized,
    no_sync_property,
    sync_property,
)
from entanglement.sql.schema.clearing import clear_owner_rows
from entanglement.sql.schema.model import HANDED, SqlSynchronizable
from entanglement.sql.schema.tables import (
    bookkeeping_metadata,
    sync_deleted,
    sync_owners,
    sync_serial,
    utcnow,
)
from entanglement.sql.schema.types import as_uuid
from entanglement.types import (
    datetime_decoder,
    datetime_encoder,
    uuid_decoder,
    uuid_encoder,
)

__all__ = [
    "Serial",
    "SyncDeleted",
    "SyncOwner",
    "as_aware",
    "remote_owner_refusal",
    "remote_row_refusal",
    "tombstone_for",
]


class _Bookkeeping(DeclarativeBase):
    metadata = bookkeeping_metadata
    # runtime attributes (SyncOwner.destination...) are annotated but not mapped
    __allow_unmapped__ = True


class Serial(_Bookkeeping):
    """One allocated serial number (SQLite has no sequences)."""

    __table__ = sync_serial

    serial: Mapped[int]
    timestamp: Mapped[dt.datetime | None]


def as_aware(value: dt.datetime) -> dt.datetime:
    """Read a stored timestamp as UTC (SQLite returns naive values)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _get_epoch(self: SyncOwner) -> dt.datetime:
    if self.outgoing_epoch is None:
        self.outgoing_epoch = utcnow()
    return as_aware(self.outgoing_epoch)


def _set_epoch(self: SyncOwner, value: dt.datetime) -> None:
    value = as_aware(value)
    stored = self.incoming_epoch
    if stored is None or as_aware(stored) != value:
        self.incoming_serial = 0
        self.clear_requested = True
    self.incoming_epoch = value


class SyncOwner(SqlSynchronizable, _Bookkeeping):
    """An owner of rows: local (``dest_hash`` NULL) or learned from a neighbour."""

    __table__ = sync_owners
    __mapper_args__ = {  # noqa: RUF012 - read by SQLAlchemy
        "polymorphic_on": sync_owners.c.type,
        "polymorphic_identity": "SyncOwner",
    }
    sync_primary_keys = ("id",)
    sync_priority = 50

    id: Mapped[uuid.UUID] = sync_property(encoder=uuid_encoder, decoder=uuid_decoder)
    type: Mapped[str] = sync_property()
    sync_serial: Mapped[int] = sync_property()
    epoch = sync_property(
        property(_get_epoch, _set_epoch),
        encoder=datetime_encoder,
        decoder=datetime_decoder,
    )
    dest_hash: Mapped[DestHash | None] = no_sync_property()
    incoming_serial: Mapped[int] = no_sync_property()
    incoming_epoch: Mapped[dt.datetime] = no_sync_property()
    outgoing_epoch: Mapped[dt.datetime] = no_sync_property()

    clear_requested = False
    destination: Any = None

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("id", uuid.uuid4())
        now = utcnow()
        kwargs.setdefault("incoming_epoch", now)
        kwargs.setdefault("outgoing_epoch", now)
        kwargs.setdefault("incoming_serial", 0)
        super().__init__(**kwargs)

    def __repr__(self) -> str:
        where = "local" if self.dest_hash is None else f"from {self.dest_hash}"
        return f"<SyncOwner {self.id} {where}>"

    @property
    def sync_owner(self) -> SyncOwner:  # type: ignore[override]
        """An owner owns itself."""
        return self

    def sync_encode_value(self) -> str:
        """The owner id text (how an owner appears as a property value)."""
        return str(self.id)

    @classmethod
    def find_from_msg(
        cls, session: Session, dest: Any, msg: dict[str, Any]
    ) -> SyncOwner:
        """Return the owner row named by ``msg["_sync_owner"]``.

        Args:
            session: where to look.
            dest: the sender (remembered as the owner's ``destination`` when the owner
                was learned from it).
            msg: the message.

        Raises:
            SyncBadOwner: the key is missing, malformed or names no known owner.
        """
        text = msg.get("_sync_owner")
        if text is None:
            raise SyncBadOwner("message has no _sync_owner", network_msg=dict(msg))
        try:
            owner_id = as_uuid(text)
        except ValueError:
            raise SyncBadOwner(
                f"_sync_owner {text!r} is not a UUID", network_msg=dict(msg)
            ) from None
        owner = session.get(cls, owner_id)
        if owner is None:
            raise SyncBadOwner(
                f"unknown owner {owner_id}: synchronize the owner first",
                network_msg=dict(msg),
            )
        if dest is not None:
            dest_hash = getattr(dest, "dest_hash", None)
            if owner.dest_hash == dest_hash:
                owner.destination = dest
                if owner.dest_hash is not dest_hash:
                    # the neighbour's own hash object (no change to store): the
                    # ownership check of each row it sends compares identity first
                    set_committed_value(owner, "dest_hash", dest_hash)
        return owner

    @classmethod
    def sync_construct(cls, msg: dict[str, Any], **info: Any) -> SyncOwner:
        """Find or create the owner row a SyncOwner message names (§12.3)."""
        session: Session = info["context"].session
        sender = info.get("sender")
        sender_hash = getattr(sender, "dest_hash", None)
        owner_id = _message_owner_id(msg)
        with session.no_autoflush:
            owner = session.get(cls, owner_id)
            if owner is None:
                if info.get("operation") == "delete":
                    raise SyncNotFound(f"no owner {owner_id}", network_msg=dict(msg))
                owner = cls(id=owner_id, dest_hash=sender_hash, sync_serial=0)
                owner.clear_requested = True  # a new owner is a new epoch
                session.add(owner)
            elif owner.dest_hash is None:
                raise SyncBadOwner(f"owner {owner_id} is ours", network_msg=dict(msg))
            elif owner.dest_hash != sender_hash:
                raise SyncBadOwner(
                    f"owner {owner_id} was learned from {owner.dest_hash},"
                    f" not from {sender_hash}",
                    network_msg=dict(msg),
                )
        owner.destination = sender
        info["context"].owner = owner
        for key in ("id", "sync_owner_id"):
            msg.pop(key, None)
        return owner

    def sync_receive_constructed(self, msg: dict[str, Any], **info: Any) -> None:
        """Apply the message with autoflush off (the row may be half filled)."""
        session = Session.object_session(self)
        if session is None:
            super().sync_receive_constructed(msg, **info)
            return
        with session.no_autoflush:
            super().sync_receive_constructed(msg, **info)

    def clear_all_objects(
        self,
        manager: Any = None,
        *,
        registries: Iterable[Any] | None = None,
        session: Session | None = None,
    ) -> int:
        """Delete every row this owner owns (no tombstones, no messages; caller commits).

        Args:
            manager: if given, its registries and (default) its ``session`` are used; that
                session must have no manager attached and is rolled back first.
            registries: the registries whose classes are cleared.
            session: the session to delete in.

        Returns:
            The number of rows deleted.
        """

        if manager is not None:
            registries = registries if registries is not None else manager.registries
            if session is None:
                session = manager.session
                session.rollback()
        if session is None or registries is None:
            raise ValueError(
                "clear_all_objects needs a manager, or registries and a session"
            )
        return clear_owner_rows(session, self.id, registries)


HANDED.owner_class = SyncOwner  # the target of every row's sync_owner (see model)


def _message_owner_id(msg: dict[str, Any]) -> uuid.UUID:
    from entanglement.interface import SyncBadEncodingError

    text = msg.get("id", msg.get("_sync_owner"))
    try:
        return as_uuid(text)
    except ValueError:
        raise SyncBadEncodingError(
            f"SyncOwner id {text!r} is not a UUID", network_msg=dict(msg)
        ) from None


class SyncDeleted(_Bookkeeping):
    """A tombstone: a deleted row, replayed as ``delete`` to peers that missed it."""

    __table__ = sync_deleted

    id: Mapped[int]
    sync_type: Mapped[str]
    primary_key: Mapped[str]
    sync_owner_id: Mapped[uuid.UUID | None]
    sync_serial: Mapped[int]
    sync_owner: Mapped[SyncOwner | None] = relationship(SyncOwner)

    def keys(self) -> dict[str, Any]:
        """The encoded primary-key attributes (without ``_sync_owner``)."""
        stored: dict[str, Any] = json.loads(self.primary_key)
        stored.pop("_sync_owner", None)
        return stored


def tombstone_for(obj: SqlSynchronizable, serial: int) -> SyncDeleted:
    """Build the tombstone of a deleted row (keys as ``to_sync`` encodes them)."""
    keys = obj.sync_primary_keys
    # the plain encoder: keys and _sync_owner, without the sync_serial of deletes
    encoded = Synchronizable.to_sync(obj, keys if keys != "Unique" else None)
    return SyncDeleted(
        sync_type=obj.sync_type,
        primary_key=json.dumps(encoded, sort_keys=True),
        sync_owner_id=obj.sync_owner_id,
        sync_serial=serial,
    )


def remote_owner_refusal(owner: SyncOwner) -> SyncUnauthorized:
    """The error of a managed session deleting an owner learned from a neighbour."""
    return SyncUnauthorized(
        f"SyncOwner {owner.id} was learned from {owner.dest_hash}: only that node can"
        " delete it (no request asks a node to delete its owner); to forget the owners"
        " learned from a neighbour and their rows, call that SqlSyncDestination's"
        " clear_all_objects(manager)"
    )


def remote_row_refusal(obj: Any, owner: SyncOwner) -> SyncUnauthorized:
    """The error of a session without a manager changing a row owned elsewhere."""
    keys = obj.sync_primary_keys
    names = () if keys == "Unique" else keys
    values = {name: sa.inspect(obj).dict.get(name) for name in names}
    return SyncUnauthorized(
        f"{obj.sync_type} {values} is owned by {owner.id}, learned from"
        f" {owner.dest_hash}: a session without a manager cannot change, create or"
        " delete it (its owner would never hear of it). Make the change on the"
        " owner's node, or through a session with a manager"
        " (registry.sessionmaker(manager=manager)) and sync_commit(), which sends it"
        " to the owner"
    )
