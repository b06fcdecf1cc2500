"""Filtered destinations for SQL rows (§14 on top of §12): what a peer may hold.

A SQL peer keeps what it received in its database, across our restarts, so the memory
rule "withdraw what we remember sending" is not enough: after a restart we remember
nothing, yet the peer holds rows.  :class:`SqlFilteredMixin` therefore keeps, per
destination, three sets of row keys (``(hierarchy root class name, primary-key values)``,
keys only: no row is kept alive):

* ``sent``: let through on this process's watch (the peer holds them);
* ``hidden``: known not to be held (rejected, withdrawn, or deleted);
* ``maybe_held``: rows that existed when the first catch-up of their owner with a
  serial above 0 was answered in this process (the peer may hold any of them: it held
  them before we started), until a decision about them is made.

A ``sync`` the filters reject is withdrawn (a synthetic ``delete`` with the primary keys
and the row's current ``sync_serial``, so the peer's tombstone carries the serial at
which the row left its scope and its own downstream peers learn it at catch-up) when the
row is in ``sent`` or ``maybe_held``; a row never seen before (inserted since) is simply
not sent.  A ``delete`` of a row in ``hidden`` is not sent (the peer does not have it);
any other delete is, and the row becomes hidden.  A catch-up from serial 0 starts from a
peer that holds nothing of the owner (an epoch change or an interrupted first catch-up
cleared it), so nothing is maybe held.  Row deletions the peer missed while apart are
replayed from tombstones whatever the filter (the deleted row cannot be asked), which
costs the peer one ``SyncNotFound`` for a row it never had.

The resynchronisation messages (``IHave``, ``YouHave``, ``MyOwners``) always pass: they
are the protocol, not objects; owners go through the filters like rows (a
:class:`~entanglement.filter.SyncOwnerFilter` recommends them), and an owner withdrawn
is a ``delete`` of the SyncOwner, which makes the peer drop all its rows.

Decisions are made as rows are sent, so a filter whose verdict changes while the rows
do not (it reads other state) needs :meth:`SqlFilteredMixin.refilter`: it reads the rows
the peer may be offered, as a catch-up from serial 0 does, sends what now passes and
withdraws what no longer does (the SQL form of §14's ``potential_new_objects`` and
``potential_withdrawn_objects``).

The catch-up answer (:mod:`entanglement.sql.resync.answer`) calls :func:`before_catch_up` for
each owner; the rows then go through ``manager.synchronize``, i.e. the same send policy
chain (destination, registry, object) as every other send.  :class:`SqlFilterPolicy` is
the registry-level form (schema ``policy.filter``), with the same decisions.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapper, Session

from entanglement.filter import (
    FilteredMixin,
    FilterPolicy,
    FilterScope,
    SentKey,
    _operation_name,
)
from entanglement.interface import SyncError, SyncNotConnected, Unique
from entanglement.sql.resync.rows import (
    answer_limit,
    next_batch,
    owner_condition,
    row_reader,
)
from entanglement.sql.schema.bookkeeping import SyncOwner
from entanglement.sql.schema.clearing import sql_hierarchies
from entanglement.sql.schema.messages import IHave, MyOwners, YouHave
from entanglement.sql.schema.state import sql_state
from entanglement.sql.send.capture import snapshot

__all__ = [
    "SqlFilterPolicy",
    "SqlFilterScope",
    "SqlFilteredMixin",
    "before_catch_up",
    "filter_scopes",
]

log = logging.getLogger("entanglement")

_PROTOCOL_MESSAGES = (IHave, YouHave, MyOwners)
_ALWAYS_HEARD = (IHave, YouHave, MyOwners, SyncOwner, SyncError)
_ROOTS: dict[type, str] = {}


def row_key(obj: Any) -> SentKey | None:
    """``(root class name, primary-key values)`` of a row (None for Unique)."""
    cls = type(obj)
    names = cls.sync_primary_keys
    if names == Unique:
        return None
    root = _ROOTS.get(cls)
    if root is None:
        mapper = sa.inspect(cls, raiseerr=False)
        base = mapper.base_mapper.class_ if isinstance(mapper, Mapper) else cls
        root = _ROOTS[cls] = base.__name__
    return root, tuple(getattr(obj, name, None) for name in names)


class SqlFilteredMixin(FilteredMixin):
    """The SQL decisions of a filtered destination or scope (see the module text)."""

    def init_filters(self) -> None:
        super().init_filters()
        self.hidden: set[SentKey] = set()
        self.maybe_held: set[SentKey] = set()
        self.caught_up_owners: set[uuid.UUID] = set()

    def should_send(self, obj: Any, old_filters: bool = False, **info: Any) -> bool:
        """Filter a row for the peer; withdraw it when it stops passing."""
        if isinstance(obj, _PROTOCOL_MESSAGES):
            return True
        key = row_key(obj)
        operation = _operation_name(info)
        if key is None:
            return operation == "delete" or self.filters_pass(
                obj, old_filters=old_filters, **info
            )
        if operation == "delete":
            if key in self.hidden:
                return False
            self._now_hidden(key)
            return True
        allowed = self.filters_pass(obj, old_filters=old_filters, **info)
        if operation != "sync":
            return allowed
        if allowed:
            self.sent[key] = None
            self.hidden.discard(key)
            self.maybe_held.discard(key)
            self.note_sent(key)
        elif key not in self.hidden:
            if key in self.sent or key in self.maybe_held:
                self.withdraw_row(info.get("manager"), obj, key)
            else:
                self._now_hidden(key)
        return allowed

    def should_listen(self, msg: dict[str, Any], cls: type, **info: Any) -> bool:
        """The resynchronisation messages, owners and errors are always heard.

        Anything else as for :class:`~entanglement.filter.FilteredMixin` (refused
        unless ``filter_should_listen_returns_true``): without the owners and the
        IHaves of the peer no catch-up could run in either direction.
        """
        if isinstance(cls, type) and issubclass(cls, _ALWAYS_HEARD):
            return True
        return super().should_listen(msg, cls, **info)

    def _now_hidden(self, key: SentKey) -> None:
        self.sent.pop(key, None)
        self.maybe_held.discard(key)
        self.hidden.add(key)

    def withdraw_row(self, manager: Any, obj: Any, key: SentKey) -> None:
        """Queue the synthetic delete of ``obj`` (keys and serial) to the peer."""
        if manager is None:
            return
        names = tuple(type(obj).sync_primary_keys)
        if not isinstance(obj, SyncOwner) and "sync_serial" in obj._sync_properties:
            names += ("sync_serial",)
        try:
            manager.synchronize(
                obj,
                destinations=[self.filter_target],
                operation="delete",
                attributes_to_sync=names,
            )
        except SyncNotConnected as exc:
            # closed meanwhile: still maybe held, withdrawn at its next change or refilter
            self.hidden.discard(key)
            self.maybe_held.add(key)
            log.info("%r: withdrawal of %s %r deferred: %s", self, *key, exc)
        else:
            log.debug("%r: withdrew %s %r", self, *key)

    def withdraw(self, manager: Any, key: SentKey) -> None:
        """Rows are withdrawn with :meth:`withdraw_row`: ``sent`` holds no objects."""
        raise NotImplementedError(
            f"{type(self).__name__} withdraws rows as they are rejected "
            "(withdraw_row); after a filter change use refilter()"
        )

    async def refilter(self, manager: Any) -> tuple[int, int]:
        """After a filter change: send what now passes, withdraw what no longer does.

        Reads every row the peer may be offered (owners not learned from it) in
        batches, as the catch-up does, and sends each through the send chain unless
        the filters' verdict leaves the peer as it is.  Needs a live connection.

        Returns:
            ``(sent, withdrawn)`` row counts.
        """
        target = self.filter_target
        protocol = target.protocol
        if protocol is None or protocol.closed:
            raise RuntimeError(f"{target!r} is not connected: nothing to refilter")
        sent = withdrawn = 0
        info = {"manager": manager, "destination": target, "operation": "sync"}
        async for batch in rows_for_refilter(manager, self, target):
            for row in batch:
                key = row_key(row)
                passes = self.filters_pass(row, **info)
                if key is None or (key in self.sent if passes else key in self.hidden):
                    continue  # the peer holds it already, or does not and must not
                if passes:
                    sent += 1
                elif key in self.sent or key in self.maybe_held:
                    withdrawn += 1  # (a row never seen is only marked hidden)
                manager.synchronize(row, destinations=[target])
            await protocol.sync_drain()
        return sent, withdrawn

    def catch_up_roots(self, manager: Any) -> list[type[Any]]:
        """The hierarchies whose rows this filter decides about."""
        return sql_hierarchies(manager.registries)

    def note_catch_up(
        self,
        manager: Any,
        session: Session,
        owner_id: uuid.UUID,
        serial: int,
        condition: Callable[[Any], Any],
    ) -> None:
        """An IHave(serial) of ``owner_id`` is being answered: note what may be held.

        The first time in this process that an owner is caught up from a serial
        above 0, every row of it is *maybe held* by the peer (it may have received
        them before this process started).
        """
        if owner_id in self.caught_up_owners:
            return
        self.caught_up_owners.add(owner_id)
        if serial <= 0:
            return
        for root in self.catch_up_roots(manager):
            if root.sync_primary_keys == Unique:
                continue
            columns = [getattr(root, name) for name in root.sync_primary_keys]
            stmt = sa.select(*columns).where(condition(root.sync_owner_id))
            name = root.__name__
            for values in session.execute(stmt):
                key = (name, tuple(values))
                if key not in self.sent and key not in self.hidden:
                    self.maybe_held.add(key)


class SqlFilterScope(SqlFilteredMixin, FilterScope):
    """A :class:`SqlFilterPolicy`'s state for one destination."""

    roots: list[type[Any]] | None = None

    def catch_up_roots(self, manager: Any) -> list[type[Any]]:
        return self.roots if self.roots is not None else super().catch_up_roots(manager)


class SqlFilterPolicy(FilterPolicy):
    """A SQL registry's filter (schema ``policy.filter``): SQL decisions per peer.

    Args:
        source: as for :class:`~entanglement.filter.FilterPolicy`.
        registry: the registry whose rows it decides about (its hierarchies are the
            ones scanned at catch-up); set by the registry that owns the policy.
    """

    scope_class = SqlFilterScope

    def __init__(self, source: Any, registry: Any = None) -> None:
        super().__init__(source)
        self.registry = registry

    def make_scope(self, destination: Any, filter: Any) -> FilterScope:
        scope = super().make_scope(destination, filter)
        if isinstance(scope, SqlFilterScope) and self.registry is not None:
            scope.roots = sql_hierarchies([self.registry])
        return scope


def filter_scopes(manager: Any, dest: Any) -> list[SqlFilteredMixin]:
    """Every SQL filter state deciding about rows sent to ``dest``."""
    scopes: list[SqlFilteredMixin] = []
    if isinstance(dest, SqlFilteredMixin):
        scopes.append(dest)
    for registry in manager.registries:
        policy = getattr(registry, "sync_filter_policy", None)
        if isinstance(policy, SqlFilterPolicy):
            scope = policy.scope(dest)
            if isinstance(scope, SqlFilteredMixin):
                scopes.append(scope)
    return scopes


def before_catch_up(
    manager: Any,
    session: Session,
    dest: Any,
    owner_id: uuid.UUID,
    serial: int,
    condition: Callable[[Any], Any],
) -> None:
    """Tell every filter of ``dest`` that owner ``owner_id`` is caught up from ``serial``."""
    for scope in filter_scopes(manager, dest):
        scope.note_catch_up(manager, session, owner_id, serial, condition)


async def rows_for_refilter(
    manager: Any, scope: Any, dest: Any
) -> AsyncIterator[list[Any]]:
    """Batches of every row ``dest`` may be offered, for ``scope``'s hierarchies.

    The rows of each owner not learned from ``dest``, read as an answer from serial 0
    reads them (:mod:`entanglement.sql.resync.answer`).
    """
    maker = sql_state(manager).sessionmaker
    assert maker is not None
    with maker(expire_on_commit=False) as session:
        owners = session.scalars(
            sa.select(SyncOwner).where(
                sa.or_(
                    SyncOwner.dest_hash.is_(None), SyncOwner.dest_hash != dest.dest_hash
                )
            )
        ).all()
        for owner in owners:
            owner_snap = snapshot(owner)
            condition = owner_condition(dest, owner.id)
            limit = answer_limit(manager, session, condition)
            for root in scope.catch_up_roots(manager):
                reader = row_reader(session, root, condition, (0, limit), owner.id)
                top = 0
                while batch := next_batch(session, reader, top):
                    for row in batch:
                        row.__dict__["sync_owner"] = owner_snap
                    top = int(batch[-1].sync_serial)
                    yield batch
