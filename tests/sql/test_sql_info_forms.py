"""The SQL layer's hooks run from their info-dict forms unless overridden (issue 12).

A receive plan calls the SQL library's own ``sync_context``, ``sync_construct``,
``sync_receive_constructed`` and ``incoming_sync`` through the private forms they
declare (:func:`entanglement._plan.info_form`), with the info dict rather than
``**info``.  An application overriding any of them (calling super, as API.md invites)
must still have its override called for every received row, with the §11 keywords,
and the rows stored; and an override installed between two floods applies to the
next one (a plan never outlives a hook change).  Real TLS on loopback, real SQLite
files and PostgreSQL schemas.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from sql_helpers import SqlNode, connected, run, shutdown, wait_until
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from entanglement._plan import dict_form, info_form
from entanglement.sql import GUID, SqlSynchronizable, SqlSyncRegistry

ROWS = 40
KEYWORDS = {"manager", "sender", "operation", "registry", "context"}


class HookRegistry(SqlSyncRegistry):
    """Overrides the registry hooks that have info-dict forms; records each call."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: list[tuple[str, frozenset[str]]] = []

    def sync_context(self, **info: Any) -> Any:
        self.calls.append(("sync_context", frozenset(info)))
        return super().sync_context(**info)

    def incoming_sync(self, obj: Any, context: Any, **info: Any) -> None:
        self.calls.append(("incoming_sync", frozenset({*info, "context"})))
        super().incoming_sync(obj, context, **info)


class Base(SqlSynchronizable, DeclarativeBase):
    sync_registry = HookRegistry()


class Note(Base):
    __tablename__ = "note"
    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    text: Mapped[str] = mapped_column(String(64))

    calls: list[tuple[str, frozenset[str]]] = []  # noqa: RUF012 - the test's record

    @classmethod
    def sync_construct(cls, msg: dict[str, Any], **info: Any) -> Any:
        Note.calls.append(("sync_construct", frozenset(info)))
        return super().sync_construct(msg, **info)

    def sync_receive_constructed(self, msg: dict[str, Any], **info: Any) -> None:
        Note.calls.append(("sync_receive_constructed", frozenset(info)))
        super().sync_receive_constructed(msg, **info)


class Plain(Base):
    """A class keeping the SQL layer's hooks: the plan calls their private forms."""

    __tablename__ = "plain_note"
    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    text: Mapped[str] = mapped_column(String(64))


def _node(name: str, url: str, pki_node: Any) -> SqlNode:
    node = SqlNode(name, url, pki_node, models=(Note, Plain))
    node.registry = HookRegistry(bind=node.engine)
    for cls in (Note, Plain):
        node.registry.register_syncable(cls.sync_type, cls)
    return node


def _count(node: SqlNode, cls: Any) -> int:
    with node.plain() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(cls)) or 0)


def _add(node: SqlNode, cls: Any, prefix: str) -> None:
    with node.session() as session:
        session.add_all(cls(text=f"{prefix}{i}") for i in range(ROWS))
        session.commit()  # flooded to the other node


def test_sql_hooks_with_info_forms_are_plain_functions_with_a_declared_form() -> None:
    # what the plans rely on: the SQL layer's own hooks declare their forms, an
    # override does not (it is called with **info)
    registry = HookRegistry()
    assert dict_form(SqlSyncRegistry().sync_context, registry) is not None
    assert dict_form(registry.sync_context, registry) is None
    assert dict_form(registry.incoming_sync, registry) is None
    assert dict_form(Plain.sync_construct, Plain) is not None
    assert dict_form(Note.sync_construct, Note) is None
    assert dict_form(Plain.sync_receive_constructed, Plain) is not None
    assert dict_form(Note.sync_receive_constructed, Note) is None

    class Hooks:
        @info_form("_run_info")
        def run(self, obj: Any, **info: Any) -> Any:
            return self._run_info(obj, info)

        def _run_info(self, obj: Any, info: dict[str, Any]) -> Any:
            return obj, info

    hooks = Hooks()
    form = dict_form(hooks.run, hooks)
    assert form is not None
    assert form(1, {"k": 2}) == hooks.run(1, k=2)


def test_overridden_sql_hooks_are_called_with_info_and_rows_are_stored(
    pki: Any, db_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = _node("a", db_factory("a"), pki["a"])
    b = _node("b", db_factory("b"), pki["b"])
    late: list[frozenset[str]] = []

    def late_fill(self: Any, msg: dict[str, Any], **info: Any) -> None:
        late.append(frozenset(info))
        SqlSynchronizable.sync_receive_constructed(self, msg, **info)

    async def scenario() -> None:
        await a.start()
        await b.start()
        try:
            await connected(b, a)
            Note.calls.clear()
            _add(a, Note, "n")
            await wait_until(lambda: _count(b, Note) == ROWS)
            _add(a, Plain, "p")
            await wait_until(lambda: _count(b, Plain) == ROWS)
            # an override installed on the plain class between two floods is
            # called for every row of the next one
            monkeypatch.setattr(Plain, "sync_receive_constructed", late_fill)
            _add(a, Plain, "q")
            await wait_until(lambda: _count(b, Plain) == 2 * ROWS)
        finally:
            await shutdown(a, b)

    try:
        run(scenario(), timeout=60)
        notes = [(hook, keys) for hook, keys in Note.calls]
        for hook in ("sync_construct", "sync_receive_constructed"):
            called = [keys for name, keys in notes if name == hook]
            assert len(called) >= ROWS, hook  # (a row may come twice: flood, answer)
            assert all(keys >= KEYWORDS for keys in called), (hook, called[:1])
        for hook in ("sync_context", "incoming_sync"):
            called = [keys for name, keys in b.registry.calls if name == hook]
            # every received row of both classes, and the registry's keywords
            assert len(called) >= 3 * ROWS, hook
            assert all(KEYWORDS - {"context"} <= keys for keys in called), (
                hook,
                called[:1],
            )
        assert len(late) >= ROWS
        assert all(keys >= KEYWORDS for keys in late)
        with a.plain() as sa_session, b.plain() as sb_session:
            for cls in (Note, Plain):
                sent = {(r.id, r.text) for r in sa_session.scalars(sa.select(cls))}
                got = {(r.id, r.text) for r in sb_session.scalars(sa.select(cls))}
                assert got == sent
    finally:
        a.dispose()
        b.dispose()
