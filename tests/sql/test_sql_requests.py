"""Requests toward the owner (forward, create, delete) and refused messages."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sql_helpers import (
    Team,
    add_teams,
    caught_up,
    connected,
    owner_learned_from,
    pair,
    run,
    shutdown,
    team_row,
    wait_until,
)
from sqlalchemy.orm.attributes import set_committed_value

from entanglement.interface import SyncBadEncodingError, SyncBadOwner, SyncNotFound
from entanglement.sql import SqlSyncError, SyncOwner
from entanglement.sql.send.capture import snapshot


async def _ready(a, b, *names: str) -> None:
    add_teams(a, *names)
    await connected(b, a)
    await wait_until(lambda: set(b.teams()) == set(a.teams()) and caught_up(b, a))


def test_forward_from_a_non_owner_is_applied_by_the_owner(pki, db_factory) -> None:
    async def scenario() -> None:
        a, b = await pair(pki, db_factory)
        try:
            await _ready(a, b, "x")
            with b.session() as session:
                team = session.scalars(sa.select(Team)).one()
                team.motto = "proposed by b"
                session.sync_commit()
                session.commit()
                accepted = await team.sync_future
            assert isinstance(accepted, Team)
            assert accepted.motto == "proposed by b"
            assert accepted.sync_serial > 1  # the owner's new serial
            assert a.teams() == {"x": "proposed by b"}
            await wait_until(lambda: b.teams() == {"x": "proposed by b"})
        finally:
            await shutdown(a, b)

    run(scenario())


def test_forward_of_a_missing_row_gets_sync_not_found(pki, db_factory) -> None:
    async def scenario() -> None:
        a, b = await pair(pki, db_factory)
        try:
            await _ready(a, b, "x")
            ghost = Team(id=uuid.uuid4(), name="ghost")
            ghost.sync_owner = owner_learned_from(b, a)
            future = b.manager.synchronize(
                ghost, destinations=[b.manager.dest_by_hash(a.hash)],
                operation="forward", response=True,
            )  # fmt: skip
            with pytest.raises(SyncNotFound):
                await future
            assert a.teams() == {"x": "x!"}
        finally:
            await shutdown(a, b)

    run(scenario())


def test_create_toward_the_owner(pki, db_factory) -> None:
    async def scenario() -> None:
        a, b = await pair(pki, db_factory)
        try:
            await _ready(a, b, "x")
            created = await Team(name="made by b").sync_create(
                b.manager, owner_learned_from(b, a)
            )
            assert isinstance(created, Team)
            assert created.id is not None
            assert created.sync_owner.id == a.local_owner().id
            assert "made by b" in a.teams()
            # quirk 43 fixed: a new row given a remote owner becomes a create request
            with b.session() as session:
                team = Team(name="added by b")
                team.sync_owner = session.get(SyncOwner, owner_learned_from(b, a).id)
                session.add(team)
                session.sync_commit()
                session.commit()
                assert (await team.sync_future).name == "added by b"
            assert team_row(a, "added by b").sync_owner_id == a.local_owner().id
            await wait_until(lambda: set(b.teams()) == {"x", "made by b", "added by b"})
        finally:
            await shutdown(a, b)

    run(scenario())


def test_delete_request_from_a_non_owner(pki, db_factory) -> None:
    async def scenario() -> None:
        a, b = await pair(pki, db_factory)
        try:
            await _ready(a, b, "x", "y")
            with b.session() as session:
                team = session.scalars(sa.select(Team).where(Team.name == "y")).one()
                session.delete(team)
                session.sync_commit()
                session.commit()
                echo = await team.sync_future
            assert echo.name is None or echo.name == "y"
            assert set(a.teams()) == {"x"}
            await wait_until(lambda: set(b.teams()) == {"x"})
        finally:
            await shutdown(a, b)

    run(scenario())


def test_constraint_violation_at_the_owner_is_an_sql_sync_error(
    pki, db_factory: Callable[[str], str]
) -> None:
    async def scenario() -> None:
        a, b = await pair(pki, db_factory)
        try:
            await _ready(a, b, "x", "y")
            before = a.teams()
            with b.session() as session:
                team = session.scalars(sa.select(Team).where(Team.name == "y")).one()
                team.name = "x"  # team names are unique
                session.sync_commit()
                session.commit()
                with pytest.raises(SqlSyncError, match="refused"):
                    await team.sync_future
            assert a.teams() == before
            assert b.teams() == before
        finally:
            await shutdown(a, b)

    run(scenario())


def test_unknown_owner_is_answered_with_sync_bad_owner(pki, db_factory) -> None:
    async def scenario() -> None:
        a, b = await pair(pki, db_factory)
        try:
            await _ready(a, b, "x")
            stray = Team(id=uuid.uuid4(), name="stray", sync_serial=99)
            stray.sync_owner = SyncOwner(id=uuid.uuid4(), sync_serial=1)
            future = a.manager.synchronize(
                stray, destinations=[a.manager.dest_by_hash(b.hash)], response=True
            )
            with pytest.raises(SyncBadOwner, match="unknown owner"):
                await future
            assert set(b.teams()) == {"x"}
        finally:
            await shutdown(a, b)

    run(scenario())


def test_a_message_cannot_change_the_owner_of_a_row(pki, db_factory) -> None:
    async def scenario() -> None:
        a, b = await pair(pki, db_factory)
        try:
            add_teams(a, "x")
            with a.plain() as session:  # a second local owner, offered on connect
                session.add(SyncOwner(sync_serial=1))
                session.commit()
            await _ready(a, b)
            await wait_until(
                lambda: b.owner_ids() >= a.owner_ids() and "x" in b.teams()
            )
            original = team_row(a, "x").sync_owner_id
            with a.plain() as session:
                hijack = snapshot(session.scalars(sa.select(Team)).one())
                other = session.scalars(
                    sa.select(SyncOwner).where(
                        SyncOwner.id != original, SyncOwner.dest_hash.is_(None)
                    )
                ).one()
                set_committed_value(hijack, "sync_owner", snapshot(other))
            future = a.manager.synchronize(
                hijack, destinations=[a.manager.dest_by_hash(b.hash)], response=True
            )
            with pytest.raises(SyncBadEncodingError, match="cannot change its owner"):
                await future
            assert team_row(b, "x").sync_owner_id == original
        finally:
            await shutdown(a, b)

    run(scenario())
