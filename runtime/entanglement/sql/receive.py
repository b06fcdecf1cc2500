"""Constructing a received row in the context session (§12.2 "Construction on receive").

1. The primary keys are *decoded* with their properties' codecs before the lookup
   (quirk 32: the original used the raw JSON values).  A missing key is a
   ``SyncBadEncodingError`` unless the operation does not require keys (``create``).
2. The row is looked up in the context session.
3. The owner comes from ``_sync_owner``; a missing, malformed or unknown owner is a
   ``SyncBadOwner`` answered to the sender (quirk 44: the original hit an assertion).
4. An existing row owned by another owner than the message names is refused with
   ``SyncBadEncodingError``: messages cannot move rows between owners.
5. A new row is constructed (constructor rules of the object model), given its keys and
   owner, and added to the session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapper, Session

from entanglement.interface import SyncBadEncodingError, Synchronizable

if TYPE_CHECKING:
    from entanglement.sql.model import SqlSynchronizable

__all__ = ["construct_row", "decode_keys"]


def decode_keys(
    cls: type[SqlSynchronizable], msg: dict[str, Any], *, required: bool
) -> dict[str, Any] | None:
    """Decode the primary-key values of ``msg`` (None if some are missing and allowed).

    Raises:
        SyncBadEncodingError: a key is missing while required, or cannot be decoded.
    """
    names = cls.sync_primary_keys
    assert names != "Unique"
    keys: dict[str, Any] = {}
    for name in names:
        if name not in msg or msg[name] is None:
            if required:
                raise SyncBadEncodingError(
                    f"{cls.sync_type}: primary key {name!r} missing",
                    network_msg=dict(msg),
                )
            return None
        try:
            keys[name] = cls._sync_properties[name].decode(msg[name])
        except Exception as exc:
            raise SyncBadEncodingError(
                f"{cls.sync_type}: cannot decode primary key {name!r}: {exc}",
                network_msg=dict(msg),
            ) from exc
    return keys


def _lookup(session: Session, cls: type[Any], keys: dict[str, Any]) -> Any:
    mapper: Mapper[Any] = sa.inspect(cls)
    pk_names = [mapper.get_property_by_column(c).key for c in mapper.primary_key]
    if set(pk_names) == set(keys):
        ident = tuple(keys[n] for n in pk_names)
        if (
            session.identity_map.get(mapper.identity_key_from_primary_key(ident))
            is None
        ):
            # a light existence probe first: most rows a catching-up peer receives
            # are new, and a full ORM load of nothing costs several times more
            table = mapper.base_mapper.local_table
            probe = (
                sa.select(sa.literal(1))
                .select_from(table)
                .where(
                    *(
                        col == ident[i]
                        for i, col in enumerate(mapper.base_mapper.primary_key)
                    )
                )
            )
            if session.execute(probe).first() is None:
                return None
        return session.get(cls, ident)
    return session.scalars(sa.select(cls).filter_by(**keys).limit(1)).first()


def construct_row(
    cls: type[SqlSynchronizable], msg: dict[str, Any], **info: Any
) -> Any:
    """The implementation of ``SqlSynchronizable.sync_construct``."""
    from entanglement.sql.bookkeeping import SyncOwner

    context = info["context"]
    session: Session = context.session
    operation = info.get("operation")
    required = getattr(operation, "primary_keys_required", True)
    keys = decode_keys(cls, msg, required=required)
    batch = context.batch
    batch_key = (sa.inspect(cls).base_mapper, *keys.values()) if keys else None
    with session.no_autoflush:
        owner = SyncOwner.find_from_msg(session, info.get("sender"), msg)
        context.owner = owner
        row = batch.new.get(batch_key) if batch is not None else None
        if row is None and keys is not None:
            row = _lookup(session, cls, keys)
    context.row = row
    if row is not None:
        if not isinstance(row, cls):
            raise SyncBadEncodingError(
                f"{cls.sync_type} keys name a {type(row).sync_type}",
                network_msg=dict(msg),
            )
        if row.sync_owner_id is not None and row.sync_owner_id != owner.id:
            raise SyncBadEncodingError(
                f"{cls.sync_type} {keys} is owned by {row.sync_owner_id}; a message"
                f" cannot change its owner to {owner.id}",
                network_msg=dict(msg),
            )
        context.existing = True
        for name in keys or {}:
            msg.pop(name, None)
        return row
    context.existing = False
    row = Synchronizable.sync_construct.__func__(cls, msg, **info)  # type: ignore[attr-defined]
    for name, value in (keys or {}).items():
        msg.pop(name, None)
        setattr(row, name, value)
    row.sync_owner = owner
    session.add(row)
    context.row = row
    if batch is not None and batch_key is not None:
        batch.new[batch_key] = row
    return row
