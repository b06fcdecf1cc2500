"""The SQL model without a network: properties, codecs, priorities, serials, tombstones."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import ClassVar

import pytest
import sqlalchemy as sa
from sqlalchemy import (
    TIMESTAMP,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates
from sqlalchemy.types import TypeDecorator

from entanglement._hashes import DestHash
from entanglement.interface import SyncBadEncodingError, no_sync_property
from entanglement.operations import sync
from entanglement.sql import (
    GUID,
    SqlDestHash,
    SqlSynchronizable,
    SqlSyncRegistry,
    SyncDeleted,
    SyncOwner,
    get_or_create,
    sql_sync_declarative_base,
    sync_session_maker,
)
from entanglement.sql.receive.registry import SyncContext


class UtcDateTime(TypeDecorator[dt.datetime]):
    impl = DateTime
    cache_ok = True


registry = SqlSyncRegistry()


class Base(SqlSynchronizable, DeclarativeBase):
    sync_registry = registry


class League(Base):
    __tablename__ = "league"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    started: Mapped[dt.datetime | None] = mapped_column(TIMESTAMP, nullable=True)
    ends: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    note: Mapped[str | None] = no_sync_property(mapped_column(String, nullable=True))
    rank: Mapped[int]


class Club(Base):
    __tablename__ = "club"
    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    league_id: Mapped[int] = mapped_column(ForeignKey("league.id"))


class Member(Base):
    __tablename__ = "member"
    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    club_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("club.id"))


class Vehicle(Base):
    __tablename__ = "vehicle"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    __mapper_args__ = {  # noqa: RUF012 - read by SQLAlchemy
        "polymorphic_on": "kind",
        "polymorphic_identity": "vehicle",
    }


class Car(Vehicle):
    __tablename__ = "car"
    id: Mapped[int] = mapped_column(ForeignKey("vehicle.id"), primary_key=True)
    doors: Mapped[int] = mapped_column(default=4)
    __mapper_args__ = {"polymorphic_identity": "car"}  # noqa: RUF012


class Audited(Base):
    # a validator on the bookkeeping column: the capture must assign through it
    __tablename__ = "audited"
    id: Mapped[int] = mapped_column(primary_key=True)
    seen_serials: ClassVar[list[int]] = []

    @validates("sync_serial")
    def _record(self, key: str, value: int) -> int:
        self.seen_serials.append(value)
        return value


class Blob(Base):
    __tablename__ = "blob"
    key: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    label: Mapped[str] = mapped_column(String(20))


Legacy = sql_sync_declarative_base()


class OldStyle(Legacy):
    __tablename__ = "old_style"
    id = Column(Integer, primary_key=True)
    info = Column(String)
    hidden = no_sync_property(Column(String))


@pytest.fixture
def maker(engine: sa.Engine):
    SqlSyncRegistry.create_bookkeeping(engine)
    Base.metadata.create_all(engine)
    return sync_session_maker(bind=engine, expire_on_commit=False)


def test_every_column_is_a_sync_property_unless_hidden() -> None:
    assert list(League._sync_properties) == [
        "id", "name", "started", "ends", "sync_serial", "rank", "_sync_owner",
    ]  # fmt: skip
    assert "note" not in League._sync_properties
    assert "sync_owner_id" not in League._sync_properties
    assert set(OldStyle._sync_properties) == {
        "id",
        "info",
        "sync_serial",
        "_sync_owner",
    }
    assert League.sync_primary_keys == ("id",)


def test_bookkeeping_columns_only_on_the_base_most_table() -> None:
    assert {"sync_serial", "sync_owner_id"} <= set(Vehicle.__table__.c.keys())
    assert not {"sync_serial", "sync_owner_id"} & set(Car.__table__.c.keys())
    assert "doors" in Car._sync_properties
    assert "sync_serial" in Car._sync_properties


def test_bases_are_not_sync_types_and_classes_are_registered() -> None:
    assert "Base" not in registry.registry
    assert registry.registry["League"] is League
    assert isinstance(Legacy.registry, SqlSyncRegistry)
    assert Legacy.registry.registry["OldStyle"] is OldStyle


def test_priority_puts_children_strictly_after_parents_and_owners_first() -> None:
    # quirk 40 fixed: the original let a parent and its first child tie
    assert SyncOwner.sync_priority < League.sync_priority
    assert League.sync_priority < Club.sync_priority < Member.sync_priority
    assert Vehicle.sync_priority < Car.sync_priority


def test_codecs_match_subclasses_and_decorated_types() -> None:
    # quirk 28 fixed: TIMESTAMP and a TypeDecorator over DateTime use the datetime codec
    when = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
    league = League(id=1, name="n", started=when, ends=when, rank=1, sync_serial=1)
    wire = league.to_sync()
    assert wire["started"] == wire["ends"] == "2024-05-06T07:08:09+00:00"
    assert League._sync_properties["ends"].decode("2024-05-06T07:08:09") == when
    blob = Blob(key=b"\x00\xff", label="b", sync_serial=1)
    assert blob.to_sync()["key"] == "AP8="


def test_column_types_round_trip_and_refuse_garbage(engine: sa.Engine) -> None:
    table = sa.Table(
        "probe", sa.MetaData(), Column("g", GUID), Column("h", SqlDestHash)
    )
    table.create(engine)
    value, digest = uuid.uuid4(), DestHash.from_string("x")
    with engine.begin() as conn:
        conn.execute(table.insert().values(g=str(value), h=str(digest)))
        conn.execute(table.insert().values(g=value, h=digest))
        rows = conn.execute(sa.select(table.c.g, table.c.h)).all()
        stored = conn.execute(sa.text("select g from probe")).scalars().first()
    assert rows == [(value, digest), (value, digest)]
    assert stored == value.hex
    with (
        pytest.raises(sa.exc.StatementError, match="not a UUID"),
        engine.begin() as conn,
    ):
        conn.execute(table.insert().values(g="nope"))


def test_one_serial_per_flush_and_tombstones(maker) -> None:
    with maker() as session:
        session.add_all(
            [League(id=1, name="a", rank=1), League(id=2, name="b", rank=2)]
        )
        session.commit()
        first, second = session.scalars(sa.select(League).order_by(League.id)).all()
        assert first.sync_serial == second.sync_serial
        owner = session.scalars(sa.select(SyncOwner)).one()
        assert owner.dest_hash is None
        assert first.sync_owner is owner
        second.name = "renamed"
        session.commit()
        assert second.sync_serial == first.sync_serial + 1
        session.delete(first)
        session.commit()
        tomb = session.scalars(sa.select(SyncDeleted)).one()
        assert tomb.sync_serial == second.sync_serial + 1
        assert json.loads(tomb.primary_key) == {"id": 1, "_sync_owner": str(owner.id)}


def test_managed_session_refuses_to_write_rows_owned_elsewhere(maker) -> None:
    with maker() as session:
        remote = SyncOwner(dest_hash=DestHash.from_string("peer"), sync_serial=5)
        session.add(remote)
        session.add(
            League(id=1, name="theirs", rank=1, sync_owner=remote, sync_serial=5)
        )
        session.commit()  # a session without a manager stores received rows
    with maker(manager=object()) as session:
        league = session.get(League, 1)
        league.name = "mine now?"
        with pytest.raises(NotImplementedError, match="sync_commit"):
            session.commit()


def test_a_row_owned_elsewhere_is_refused_with_its_attributes_expired(maker) -> None:
    # the owner check must not take an expired (unloaded) owner column for "no owner"
    with maker() as session:
        remote = SyncOwner(dest_hash=DestHash.from_string("peer"), sync_serial=5)
        session.add(remote)
        session.add(
            League(id=1, name="theirs", rank=1, sync_owner=remote, sync_serial=5)
        )
        session.commit()
    with maker(manager=object(), expire_on_commit=True) as session:
        league = session.get(League, 1)
        assert league is not None
        session.commit()  # expires every attribute of the loaded row
        league.name = "mine now?"
        with pytest.raises(NotImplementedError, match="sync_commit"):
            session.commit()
    with maker() as session:
        stored = session.get(League, 1)
        assert stored is not None
        assert (stored.name, stored.sync_owner.dest_hash) == (
            "theirs",
            DestHash.from_string("peer"),
        )


def test_a_validator_on_sync_serial_sees_the_serial_of_a_new_row(maker) -> None:
    Audited.seen_serials.clear()
    with maker() as session:
        session.add(League(id=1, name="first", rank=1))
        session.commit()  # the local owner is stored from here on
        session.add(Audited(id=1))
        session.commit()
        audited = session.get(Audited, 1)
        assert audited is not None
        assert Audited.seen_serials == [audited.sync_serial]
        assert audited.sync_owner is not None
        assert audited.sync_owner.dest_hash is None


def test_primary_keys_are_decoded_before_lookup(maker) -> None:
    # quirk 32 fixed: a base64 key finds its row instead of making a second one
    with maker() as session:
        remote = SyncOwner(dest_hash=DestHash.from_string("peer"), sync_serial=1)
        session.add(remote)
        session.commit()
        owner_text = str(remote.id)
    for label in ("first", "second"):
        with maker() as session:
            context = SyncContext(session)
            msg = {
                "key": "AP8=",
                "label": label,
                "sync_serial": 3,
                "_sync_owner": owner_text,
            }
            row = Blob.sync_construct(msg, context=context, operation=sync, sender=None)
            row.sync_receive_constructed(msg)
            session.commit()
    with maker() as session:
        assert [(b.key, b.label) for b in session.scalars(sa.select(Blob))] == [
            (b"\x00\xff", "second")
        ]


def test_missing_primary_key_is_a_bad_encoding(maker) -> None:
    with maker() as session, pytest.raises(SyncBadEncodingError, match="primary key"):
        Blob.sync_construct(
            {"label": "x"}, context=SyncContext(session), operation=sync
        )


def test_clear_all_objects_and_get_or_create(maker) -> None:
    with maker() as session:
        remote = SyncOwner(dest_hash=DestHash.from_string("peer"), sync_serial=1)
        session.add(remote)
        session.add(League(id=1, name="x", rank=1, sync_owner=remote, sync_serial=1))
        session.add(Car(id=7, kind="car", sync_owner=remote, sync_serial=1))
        session.add(League(id=2, name="ours", rank=1))
        session.commit()
        assert remote.clear_all_objects(registries=[registry], session=session) == 2
        session.commit()
        assert [lg.name for lg in session.scalars(sa.select(League))] == ["ours"]
        assert session.scalars(sa.select(Vehicle)).all() == []
        assert session.scalars(sa.select(SyncDeleted)).all() == []  # no tombstones
        same = get_or_create(session, League, {"id": 2})
        assert same.name == "ours"
        new = get_or_create(session, League, {"name": "fresh"}, {"id": 3, "rank": 9})
        assert new in session.new
        assert new.rank == 9
