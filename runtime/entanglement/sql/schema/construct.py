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

Renamed properties: a message naming a property by an old name (an alias) has the key
renamed to the property's name first, so keys, filling and the batch see one name.

Properties of a newer schema (issue 9): by default a message naming a property the
class does not know is refused (and its owner's serial held, see
:mod:`entanglement.sql.receive.batch`).  A class setting ``sync_unknown_properties =
"store_rest"`` stores the rest of such a row instead, logs the left-out names with the
peer, and holds the serial all the same, so the row is sent again once this node is
upgraded.  The choice is the receiver's, made in its (older) schema: an old node cannot
learn what a newer one added without extra messages a spec-following peer would answer
with errors.

Batched ``sync`` rows (:mod:`entanglement.sql.receive.batch`) skip steps 2 and 4 here (the
batch does them for the whole burst when it commits), look each owner up once per
batch, and are never added to a session: a class with the plain declarative constructor
gets its rows without calling it (a class with its own constructor gets it called, the
constructor rules), and the keys (plain columns) and owner are set in the row's
``__dict__`` (no attribute events: the batch reads the values, the ORM never flushes
the object).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapper, Session

from entanglement._codecplan import aliases_of, known_keys_of
from entanglement._fill import construct
from entanglement._sansio.peertext import peer_repr
from entanglement.interface import SyncBadEncodingError
from entanglement.sql.schema.bookkeeping import SyncOwner
from entanglement.sql.schema.plan import RowPlan, row_plan

if TYPE_CHECKING:
    from entanglement.sql.schema.model import SqlSynchronizable

__all__ = ["STORE_REST", "canonical_names", "construct_row", "decode_keys"]

log = logging.getLogger("entanglement")


def decode_keys(
    cls: type[SqlSynchronizable],
    msg: dict[str, Any],
    *,
    required: bool,
    plan: RowPlan | None = None,
) -> dict[str, Any] | None:
    """Decode the primary-key values of ``msg`` (None if some are missing and allowed).

    Args:
        plan: ``row_plan(cls)``, when the caller has it.

    Raises:
        SyncBadEncodingError: a key is missing while required, or cannot be decoded.
    """
    keys: dict[str, Any] = {}
    for name, decoder in (plan or row_plan(cls)).key_decoders:
        value = msg.get(name)
        if value is None:
            if required:
                raise SyncBadEncodingError(
                    f"{cls.sync_type}: primary key {name!r} missing",
                    network_msg=dict(msg),
                )
            return None
        try:
            keys[name] = decoder(value)
        except Exception as exc:
            raise SyncBadEncodingError(
                f"{cls.sync_type}: cannot decode primary key {name!r}: {exc}",
                network_msg=dict(msg),
            ) from exc
    return keys


def canonical_names(msg: dict[str, Any], aliases: dict[str, str]) -> None:
    """Rename the old names (aliases) of ``msg``'s keys to their properties' names.

    A message carrying both names keeps the new name's value.
    """
    for alias, name in aliases.items():
        if alias in msg:
            value = msg.pop(alias)
            msg.setdefault(name, value)


_REFUSE = "refuse"
STORE_REST = "store_rest"


def _drop_unknown(cls: Any, msg: dict[str, Any], info: dict[str, Any]) -> None:
    # sync_unknown_properties = "store_rest": properties of a newer schema are left
    # out, the rest of the row is stored, and the row's serial is held so that it is
    # sent again once this node is upgraded and can read them (issue 9)
    known = known_keys_of(cls)
    if known.issuperset(msg):
        return
    unknown = sorted(key for key in msg if key not in known and key[:1] != "_")
    if not unknown:
        return
    for key in unknown:
        del msg[key]
    sender = info.get("sender")
    context = info["context"]
    if context.batch is not None:
        context.batch.holds.hold(sender, msg.get("_sync_owner"), msg.get("sync_serial"))
    log.warning(
        "%r %s: stored a %s of owner %s without %s, which this schema does not know"
        " (the row is asked for again on the next connection)",
        getattr(sender, "name", None),
        getattr(sender, "dest_hash", None),
        cls.sync_type,
        peer_repr(msg.get("_sync_owner")),
        ", ".join(peer_repr(key) for key in unknown),
    )


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
    cls: type[SqlSynchronizable], msg: dict[str, Any], info: dict[str, Any]
) -> Any:
    """The implementation of ``SqlSynchronizable.sync_construct`` (``info`` as a dict)."""
    context = info["context"]
    batch = context.batch
    if batch is not None:  # refused from here on: the owner's serial is held
        batch.holds.expect(info.get("sender"), msg)
    _canonical(cls, msg, info)
    operation = info.get("operation")
    required = getattr(operation, "primary_keys_required", True)
    plan = row_plan(cls)
    keys = decode_keys(cls, msg, required=required, plan=plan)
    if batch is not None:
        return _batched_row(plan, msg, keys, context, info)
    session: Session = context.session
    with session.no_autoflush:
        owner = SyncOwner.find_from_msg(session, info.get("sender"), msg)
        context.owner = owner
        row = _lookup(session, cls, keys) if keys is not None else None
    context.row = row
    if row is None:
        context.existing = False
        return _new_row(cls, msg, keys, owner, context, info)
    check_row(cls, row, owner, keys, msg)
    context.existing = True
    for name in keys or {}:
        msg.pop(name, None)
    return row


def _canonical(cls: Any, msg: dict[str, Any], info: dict[str, Any]) -> None:
    # the message's names as this schema has them: old names renamed, and (with
    # store_rest) the names it does not know left out
    aliases = aliases_of(cls)
    if aliases:  # a renamed property: the row is filled under its new name
        canonical_names(msg, aliases)
    if cls.sync_unknown_properties != _REFUSE:  # (SqlSynchronizable's: refuse)
        _drop_unknown(cls, msg, info)


def _batch_owner(batch: Any, session: Session, sender: Any, msg: Any) -> Any:
    # a burst names few owners: each is looked up once per batch
    text = msg.get("_sync_owner")
    owner = batch.owners.get(text)
    if owner is None:
        with session.no_autoflush:
            owner = SyncOwner.find_from_msg(session, sender, msg)
        batch.owners[text] = owner
    return owner


def _batched_row(
    plan: RowPlan,
    msg: dict[str, Any],
    keys: dict[str, Any] | None,
    context: Any,
    info: dict[str, Any],
) -> Any:
    # Batched sync: the row is matched with the database when the batch commits (one
    # query per burst, see entanglement.sql.receive.batch), and never joins a session: the
    # declarative constructor with no arguments does nothing and is skipped (a class
    # with its own constructor gets it called), and the keys (plain columns) and
    # owner go straight into its __dict__: no attribute events, no history to keep.
    owner = _batch_owner(context.batch, context.session, info.get("sender"), msg)
    context.owner = owner
    if plan.plain_constructor:
        row = plan.mapper.class_manager.new_instance()
    else:
        row = construct(plan.mapper.class_, msg)  # the constructor rules, its errors
    values = row.__dict__
    plain = plan.decoders
    for name, value in (keys or {}).items():
        msg.pop(name, None)
        if name in plain:
            values[name] = value
        else:
            setattr(row, name, value)
    values["sync_owner"] = owner
    context.row = row
    return row


def check_row(
    cls: type[Any], row: Any, owner: Any, keys: Any, msg: dict[str, Any]
) -> None:
    """Refuse a message that names another class or another owner than the row's.

    Raises:
        SyncBadEncodingError: with the reason.
    """
    if not isinstance(row, cls):
        raise SyncBadEncodingError(
            f"{cls.sync_type} keys name a {type(row).sync_type}", network_msg=dict(msg)
        )
    if row.sync_owner_id is not None and row.sync_owner_id != owner.id:
        raise SyncBadEncodingError(
            f"{cls.sync_type} {keys} is owned by {row.sync_owner_id}; a message"
            f" cannot change its owner to {owner.id}",
            network_msg=dict(msg),
        )


def _new_row(
    cls: type[Any],
    msg: dict[str, Any],
    keys: dict[str, Any] | None,
    owner: Any,
    context: Any,
    info: dict[str, Any],
) -> Any:
    row = construct(cls, msg)
    for name, value in (keys or {}).items():
        msg.pop(name, None)
        setattr(row, name, value)
    context.row = row
    row.sync_owner = owner
    context.session.add(row)
    return row
