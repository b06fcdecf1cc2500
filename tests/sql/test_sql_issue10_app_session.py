"""Issue 10 item 8: an application session without a manager and rows owned elsewhere.

The README's set-up: a node process serves a database and applications write to it
through their own ``sync_session_maker(bind=engine)`` sessions; the node pushes their
commits of its own rows (:class:`~entanglement.sql.resync.watch.CommitWatcher`).  A change to a
row another node owns cannot travel that way: it was stored locally and the owner never
heard of it.  Such a commit is now refused with ``SyncUnauthorized`` saying what to do,
and the database keeps the owner's values.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sql_helpers import (
    SqlNode,
    Team,
    add_teams,
    caught_up,
    connected,
    owner_learned_from,
    pair,
    run,
    shutdown,
    wait_until,
)

from entanglement.interface import SyncUnauthorized
from entanglement.sql import SyncOwner, sync_session_maker
from entanglement.sql.resync.watch import CommitWatcher


async def _served(pki, db_factory: Callable[[str], str]) -> tuple[SqlNode, SqlNode]:
    """Owner A and node B connected; B holds A's team x."""
    a, b = await pair(pki, db_factory)
    add_teams(a, "x")
    await connected(b, a)
    await wait_until(lambda: "x" in b.teams() and caught_up(b, a))
    return a, b


def test_editing_a_row_owned_elsewhere_is_refused_at_commit(pki, db_factory) -> None:
    async def scenario() -> None:
        a, b = await _served(pki, db_factory)
        try:
            application = sync_session_maker(bind=b.engine)
            with application() as session:
                team = session.scalars(sa.select(Team)).one()
                team.motto = "changed by b's application"
                with pytest.raises(SyncUnauthorized, match="sync_commit") as refused:
                    session.commit()
                session.rollback()
            assert str(owner_learned_from(b, a).id) in str(refused.value)
            with application() as session:
                session.delete(session.scalars(sa.select(Team)).one())
                with pytest.raises(SyncUnauthorized, match="owner's node"):
                    session.commit()
                session.rollback()
            with application() as session:  # a new row given the neighbour's owner
                team = Team(name="for a")
                team.sync_owner = session.get(SyncOwner, owner_learned_from(b, a).id)
                session.add(team)
                with pytest.raises(SyncUnauthorized):
                    session.commit()
                session.rollback()
            assert b.teams() == a.teams() == {"x": "x!"}
        finally:
            await shutdown(a, b)

    run(scenario())


def test_sync_commit_without_a_manager_does_not_drop_the_change(
    pki, db_factory
) -> None:
    async def scenario() -> None:
        a, b = await _served(pki, db_factory)
        try:
            with sync_session_maker(bind=b.engine)() as session:
                team = session.scalars(sa.select(Team)).one()
                team.motto = "changed by b's application"
                with pytest.raises(SyncUnauthorized, match="without a manager"):
                    session.sync_commit()
                session.rollback()
            assert b.teams() == a.teams() == {"x": "x!"}
        finally:
            await shutdown(a, b)

    run(scenario())


def test_the_application_still_writes_its_own_rows_and_the_node_pushes_them(
    pki, db_factory
) -> None:
    async def scenario() -> None:
        a, b = await _served(pki, db_factory)
        try:
            watcher = CommitWatcher(b.manager)
            with sync_session_maker(bind=b.engine)() as session:
                session.add(Team(name="b's own", motto="local"))
                session.commit()
            assert watcher.poll() == 1
            await wait_until(lambda: a.teams() == {"x": "x!", "b's own": "local"})
        finally:
            await shutdown(a, b)

    run(scenario())


def test_a_copy_of_the_owners_version_may_be_stored(pki, db_factory) -> None:
    async def scenario() -> None:
        a, b = await _served(pki, db_factory)
        try:
            owner_id = owner_learned_from(b, a).id
            with sync_session_maker(bind=b.engine)() as session:
                # a tool copying the owner's rows writes their serial: no edit of ours
                copy = Team(name="copied", motto="as the owner has it", sync_serial=1)
                copy.sync_owner = session.get(SyncOwner, owner_id)
                session.add(copy)
                session.commit()
            assert b.teams()["copied"] == "as the owner has it"
        finally:
            await shutdown(a, b)

    run(scenario())
