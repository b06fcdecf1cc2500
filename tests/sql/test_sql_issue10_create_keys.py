"""Issue 10 item 2: a ``create`` that chooses its primary key needs the class's consent.

§10.6: when the message carries a primary-key attribute, the class must provide
``sync_should_listen_primary_keys(msg, **info)`` returning True, else the create is
refused with ``SyncUnauthorized``.  The keys were taken out of the message during
construction, before the check looked for them, so every such create was accepted.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from sql_helpers import (
    MODELS,
    CountingRegistry,
    SqlNode,
    Team,
    add_teams,
    caught_up,
    connected,
    owner_learned_from,
    run,
    shutdown,
    wait_until,
)
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from entanglement.interface import SyncUnauthorized
from entanglement.sql import GUID, SqlSynchronizable


class KeyedBase(SqlSynchronizable, DeclarativeBase):
    sync_registry = CountingRegistry()


class Label(KeyedBase):
    """A class whose creators may choose the key (its hook consents)."""

    __tablename__ = "label"
    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    text: Mapped[str] = mapped_column(String(64))

    def sync_should_listen_primary_keys(self, msg: dict[str, Any], **info: Any) -> bool:
        return True


def _labels(node: SqlNode) -> dict[uuid.UUID, str]:
    with node.plain() as session:
        return {label.id: label.text for label in session.scalars(sa.select(Label))}


async def _owner_and_client(pki, db_factory) -> tuple[SqlNode, SqlNode]:
    models = (*MODELS, Label)
    a = await SqlNode("a", db_factory("a"), pki["a"], models=models).start()
    b = await SqlNode("b", db_factory("b"), pki["b"], models=models).start()
    add_teams(a, "x")
    await connected(b, a)
    await wait_until(lambda: "x" in b.teams() and caught_up(b, a))
    return a, b


def test_create_with_a_chosen_key_is_unauthorized(pki, db_factory) -> None:
    async def scenario() -> None:
        a, b = await _owner_and_client(pki, db_factory)
        try:
            chosen = Team(id=uuid.uuid4(), name="chosen key")
            with pytest.raises(SyncUnauthorized, match="may not choose its primary"):
                await chosen.sync_create(b.manager, owner_learned_from(b, a))
            assert set(a.teams()) == {"x"}
            # without a key the owner assigns one, as before
            created = await Team(name="owner's key").sync_create(
                b.manager, owner_learned_from(b, a)
            )
            assert created.id is not None
            assert set(a.teams()) == {"x", "owner's key"}
        finally:
            await shutdown(a, b)

    run(scenario())


def test_create_with_a_chosen_key_is_accepted_when_the_class_consents(
    pki, db_factory
) -> None:
    async def scenario() -> None:
        a, b = await _owner_and_client(pki, db_factory)
        try:
            key = uuid.uuid4()
            created = await Label(id=key, text="mine").sync_create(
                b.manager, owner_learned_from(b, a)
            )
            assert created.id == key
            assert _labels(a) == {key: "mine"}
            await wait_until(lambda: _labels(b) == {key: "mine"})
        finally:
            await shutdown(a, b)

    run(scenario())
