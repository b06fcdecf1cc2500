"""Issue 10 items 3 and 4: deleting a ``SyncOwner``.

Deleting an owner means that it and everything it owns are gone (§12.3, §12.5): its
rows and its tombstones are deleted with it (whatever the backend enforces of the
schema's ON DELETE CASCADE; SQLite enforces nothing by default), no tombstone is
written for any of them, and, when the owner is ours and the session has a manager,
the owner's ``delete`` is flooded so that the neighbours forget it and its rows too.
An owner learned from a neighbour is that node's: ``sync_commit()`` cannot ask for its
deletion (there is no such request), so the owner row's ``sync_future`` fails with
``SyncUnauthorized`` saying what to do instead, and nothing changes anywhere.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sql_helpers import (
    MODELS,
    Player,
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
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from entanglement._hashes import DestHash
from entanglement.interface import SyncUnauthorized
from entanglement.sql import (
    SqlSynchronizable,
    SqlSyncRegistry,
    SyncDeleted,
    SyncOwner,
    sync_session_maker,
)


def _counts(engine: sa.Engine, owner_id: object) -> tuple[int, int, int, int]:
    """(owner rows, teams, players, tombstones) of ``owner_id``."""
    with sa.orm.Session(engine) as session:

        def count(column: sa.ColumnElement[object]) -> int:
            query = sa.select(sa.func.count()).where(column == owner_id)
            return int(session.scalar(query) or 0)

        return (
            count(SyncOwner.id),
            count(Team.sync_owner_id),
            count(Player.sync_owner_id),
            count(SyncDeleted.sync_owner_id),
        )


def _fill(Session: sa.orm.sessionmaker, owner: SyncOwner | None) -> None:
    """Two teams (one deleted again, leaving a tombstone) and a player of ``owner``."""
    with Session() as session:
        if owner is not None:
            owner = session.merge(owner)
        red, gone = Team(name=f"red {id(owner)}"), Team(name=f"gone {id(owner)}")
        for team in (red, gone):
            team.sync_owner = owner
        session.add_all([red, gone])
        session.flush()
        player = Player(team_id=red.id, name="p")
        player.sync_owner = owner
        session.add(player)
        session.commit()
        session.delete(session.get(Team, gone.id))
        session.commit()


def test_deleting_an_owner_without_a_manager_deletes_what_it_owns(
    db_url: str,
) -> None:
    engine = sa.create_engine(db_url)
    try:
        SqlSyncRegistry.create_bookkeeping(engine)
        for metadata in {cls.metadata for cls in MODELS}:
            metadata.create_all(engine)
        Session = sync_session_maker(bind=engine)
        with Session() as session:
            keep, drop = SyncOwner(sync_serial=1), SyncOwner(sync_serial=2)
            session.add_all([keep, drop])
            session.commit()
            keep_id, drop_id = keep.id, drop.id
        _fill(Session, keep)
        _fill(Session, drop)
        assert _counts(engine, drop_id) == (1, 1, 1, 1)
        with Session() as session:
            session.delete(session.get(SyncOwner, drop_id))
            session.commit()
        assert _counts(engine, drop_id) == (0, 0, 0, 0)
        assert _counts(engine, keep_id) == (1, 1, 1, 1)
        with sa.orm.Session(engine) as session:  # no tombstone for what went with it
            assert session.scalar(sa.select(sa.func.count(SyncDeleted.id))) == 1
    finally:
        engine.dispose()


def test_deleting_a_local_owner_floods_its_deletion(
    pki, db_factory: Callable[[str], str]
) -> None:
    async def scenario() -> None:
        a, b = await pair(pki, db_factory)
        try:
            add_teams(a, "kept")
            with a.session() as session:
                second = SyncOwner()
                session.add(second)
                session.commit()
                second_id = second.id
            with a.session() as session:
                team = Team(name="of the second owner")
                team.sync_owner = session.get(SyncOwner, second_id)
                session.add(team)
                session.commit()
            await connected(b, a)
            await wait_until(
                lambda: set(b.teams()) == {"kept", "of the second owner"}
                and second_id in b.owner_ids()
            )
            with a.session() as session:
                session.delete(session.get(SyncOwner, second_id))
                session.commit()
            assert set(a.teams()) == {"kept"}
            await wait_until(lambda: second_id not in b.owner_ids())
            assert set(b.teams()) == {"kept"}
            assert _counts(b.engine, second_id) == (0, 0, 0, 0)
        finally:
            await shutdown(a, b)

    run(scenario())


def test_a_managed_session_cannot_delete_a_neighbours_owner(
    pki, db_factory: Callable[[str], str]
) -> None:
    async def scenario() -> None:
        a, b = await pair(pki, db_factory)
        try:
            add_teams(a, "x")
            await connected(b, a)
            await wait_until(lambda: "x" in b.teams() and caught_up(b, a))
            remote_id = owner_learned_from(b, a).id
            with b.session() as session:  # sync_commit: the owner's future fails
                owner = session.get(SyncOwner, remote_id)
                session.delete(owner)
                session.sync_commit()
                session.commit()
                with pytest.raises(SyncUnauthorized, match="clear_all_objects"):
                    await owner.sync_future
            with b.session() as session:  # commit alone: refused, saying why
                session.delete(session.get(SyncOwner, remote_id))
                with pytest.raises(SyncUnauthorized, match="learned from"):
                    session.commit()
            assert remote_id in b.owner_ids()
            assert remote_id in a.owner_ids()
            assert set(b.teams()) == set(a.teams()) == {"x"}
        finally:
            await shutdown(a, b)

    run(scenario())


def test_forgetting_a_neighbours_owner_takes_its_tombstones_without_a_cascade(
    db_url: str,
) -> None:
    # Databases the original's migration made have sync_deleted's foreign key without
    # ON DELETE CASCADE: on PostgreSQL, forgetting an owner with tombstones (MyOwners,
    # clear_all_objects) then failed on the constraint.
    engine = sa.create_engine(db_url)
    try:
        SqlSyncRegistry.create_bookkeeping(engine)
        for metadata in {cls.metadata for cls in MODELS}:
            metadata.create_all(engine)
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.execute(
                    sa.text(
                        "alter table sync_deleted drop constraint"
                        " sync_deleted_sync_owner_id_fkey;"
                        " alter table sync_deleted add constraint"
                        " sync_deleted_sync_owner_id_fkey foreign key (sync_owner_id)"
                        " references sync_owners (id)"
                    )
                )
        Session = sync_session_maker(bind=engine)
        with Session() as session:
            remote = SyncOwner(dest_hash=DestHash.from_string("peer"), sync_serial=4)
            session.add(remote)
            session.flush()
            team = Team(name="copied", sync_serial=3)
            team.sync_owner = remote
            session.add(team)
            session.add(
                SyncDeleted(
                    sync_type="Team",
                    primary_key='{"id": "0"}',
                    sync_owner_id=remote.id,
                    sync_serial=4,
                )
            )
            session.commit()
            remote_id = remote.id
        assert _counts(engine, remote_id) == (1, 1, 0, 1)
        with Session() as session:
            session.delete(session.get(SyncOwner, remote_id))
            session.commit()
        assert _counts(engine, remote_id) == (0, 0, 0, 0)
    finally:
        engine.dispose()


class JoinedBase(SqlSynchronizable, DeclarativeBase):
    sync_registry = SqlSyncRegistry()


class Device(JoinedBase):
    __tablename__ = "issue10_device"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    __mapper_args__ = {  # noqa: RUF012 - read by SQLAlchemy
        "polymorphic_on": "kind",
        "polymorphic_identity": "device",
    }


class Phone(Device):
    __tablename__ = "issue10_phone"
    id: Mapped[int] = mapped_column(ForeignKey("issue10_device.id"), primary_key=True)
    number: Mapped[str] = mapped_column(String(20))
    __mapper_args__ = {"polymorphic_identity": "phone"}  # noqa: RUF012


def test_deleting_an_owner_deletes_its_joined_inheritance_rows(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    try:
        SqlSyncRegistry.create_bookkeeping(engine)
        JoinedBase.metadata.create_all(engine)
        Session = sync_session_maker(bind=engine)
        with Session() as session:
            keep, drop = SyncOwner(sync_serial=1), SyncOwner(sync_serial=2)
            session.add_all([keep, drop])
            session.flush()
            for key, owner in ((1, keep), (2, drop), (3, drop)):
                phone = Phone(id=key, number=f"{key}")
                phone.sync_owner = owner
                device = Device(id=10 + key)
                device.sync_owner = owner
                session.add_all([phone, device])
            session.commit()
            drop_id = drop.id
        with Session() as session:
            loaded = session.get(Phone, 2)  # in the session while its owner goes
            session.delete(session.get(SyncOwner, drop_id))
            session.commit()
            assert loaded not in session
        with sa.orm.Session(engine) as session:
            assert sorted(session.scalars(sa.select(Device.id))) == [1, 11]
            assert list(session.scalars(sa.select(Phone.number))) == ["1"]
    finally:
        engine.dispose()


def test_an_owner_an_application_deleted_is_forgotten_at_the_next_connection(
    pki, db_factory: Callable[[str], str]
) -> None:
    # The application-plus-node set-up: the application's session has no manager, so
    # nothing is flooded; the neighbour learns it from MyOwners when it reconnects.
    async def scenario() -> None:
        a, b = await pair(pki, db_factory)
        try:
            add_teams(a, "kept")
            application = sync_session_maker(bind=a.engine)
            with application() as session:
                second = SyncOwner()
                team = Team(name="of the second owner")
                team.sync_owner = second
                session.add_all([second, team])
                session.commit()
                second_id = second.id
            await connected(b, a)
            await wait_until(
                lambda: set(b.teams()) == {"kept", "of the second owner"}
                and caught_up(b, a)
            )
            await b.stop()
            with application() as session:
                session.delete(session.get(SyncOwner, second_id))
                session.commit()
            assert set(a.teams()) == {"kept"}
            await b.start()
            await wait_until(lambda: second_id not in b.owner_ids())
            await wait_until(lambda: caught_up(b, a))
            assert set(b.teams()) == {"kept"}
        finally:
            await shutdown(a, b)

    run(scenario())
