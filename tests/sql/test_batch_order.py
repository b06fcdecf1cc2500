"""The receive batch inserts rows in the foreign-key order of their tables (issue 13).

A burst of received rows mixes classes in the order the sender happened to send them:
a catch-up answers one inheritance hierarchy at a time (in registration order), and a
flood follows the sender's commits.  PostgreSQL checks a foreign key at once, so the
batch must insert a referenced row before the rows naming it: every table in the
dependency order of the metadata (joined-inheritance children included, a child's own
foreign key too), and within a self-referencing table the referenced rows first.

SQLite is run with ``PRAGMA foreign_keys=ON`` on the receiving node so that it checks
the keys as PostgreSQL does.  Two real nodes over TLS, on SQLite files and PostgreSQL.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sql_helpers import SqlNode, connected, run, shutdown, wait_until
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from entanglement.interface import no_sync_property
from entanglement.sql import GUID, SqlSynchronizable, SqlSyncRegistry, SyncOwner
from entanglement.sql.receive.batch import MAX_ROWS


class Base(SqlSynchronizable, DeclarativeBase):
    sync_registry = SqlSyncRegistry()


class Region(Base):
    __tablename__ = "bo_region"
    code: Mapped[str] = mapped_column(String(10), primary_key=True)


class Agency(Base):
    # references a table of its own, so it sorts after the people in send priority
    __tablename__ = "bo_agency"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    region: Mapped[str] = mapped_column(ForeignKey("bo_region.code"))


class Person(Base):
    __tablename__ = "bo_person"
    __mapper_args__ = {  # noqa: RUF012
        "polymorphic_identity": "person",
        "polymorphic_on": "kind",
    }
    kind: Mapped[str] = no_sync_property(mapped_column(String(20)))
    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(40))
    manager: Mapped[uuid.UUID | None] = mapped_column(
        GUID, ForeignKey("bo_person.id"), nullable=True
    )


class Contractor(Person):
    # a joined child whose rows carry their own foreign key to another type
    __tablename__ = "bo_contractor"
    __mapper_args__ = {"polymorphic_identity": "contractor"}  # noqa: RUF012
    id: Mapped[uuid.UUID] = mapped_column(
        GUID, ForeignKey("bo_person.id"), primary_key=True
    )
    agency: Mapped[str] = mapped_column(ForeignKey("bo_agency.name"))


# the hierarchies are answered in registration order: people (with contractors) first
MODELS: tuple[type[Any], ...] = (Person, Contractor, Region, Agency)


def _checked_keys(node: SqlNode) -> None:
    # SQLite checks foreign keys only when asked, per connection
    if node.engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(node.engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA foreign_keys=ON")

    node.engine.dispose()  # connections made before the listener are dropped


def _names(node: SqlNode, cls: type[Any]) -> set[str]:
    with node.plain() as session:
        return {row.name for row in session.scalars(sa.select(cls))}


def _nodes(pki: Any, db_factory: Any) -> tuple[SqlNode, SqlNode]:
    a = SqlNode("a", db_factory("a"), pki["a"], models=MODELS)
    b = SqlNode("b", db_factory("b"), pki["b"], models=MODELS)
    _checked_keys(b)
    return a, b


def test_catch_up_inserts_referenced_rows_first(pki, db_factory) -> None:
    a, b = _nodes(pki, db_factory)

    async def scenario() -> None:
        await a.start()
        await b.start()
        try:
            with a.session() as session:
                session.add(Region(code="eu"))
                session.flush()  # (no relationship tells the ORM to insert it first)
                session.add(Agency(name="acme", region="eu"))
                session.flush()
                boss = Person(name="boss")
                session.add(boss)
                session.flush()
                dev = Person(name="dev", manager=boss.id)
                temp = Contractor(name="temp", manager=boss.id, agency="acme")
                session.add_all([dev, temp])
                session.flush()
                boss_id, temp_id = boss.id, temp.id
                session.commit()
            with a.session() as session:
                # boss changes last: its serial is the highest, so the answer (in
                # serial order) sends it after the rows that name it
                row = session.get(Person, boss_id)
                assert row is not None
                row.name = "chief"
                session.commit()
            await connected(b, a)
            await wait_until(lambda: _names(b, Person) == {"chief", "dev", "temp"})
            with b.plain() as session:
                temp_row = session.get(Person, temp_id)
                assert isinstance(temp_row, Contractor)
                assert (temp_row.agency, temp_row.manager) == ("acme", boss_id)
                assert session.get(Agency, "acme") is not None
        finally:
            await shutdown(a, b)

    run(scenario(), timeout=15.0)


def test_a_flood_inserts_a_joined_child_after_its_key_target(pki, db_factory) -> None:
    a, b = _nodes(pki, db_factory)

    async def scenario() -> None:
        await a.start()
        await b.start()
        try:
            with a.session() as session:
                session.add(Region(code="eu"))
                session.flush()
                session.add(Agency(name="first", region="eu"))
                session.commit()
            await connected(b, a)
            await wait_until(lambda: _names(b, Agency) == {"first"})
            # three commits with no pause: one burst at b, where a contractor comes
            # before the agency the next contractor names
            with a.session() as session:
                session.add(Contractor(name="c1", agency="first"))
                session.commit()
                session.add(Agency(name="second", region="eu"))
                session.flush()
                session.add(Contractor(name="c2", agency="second"))
                session.commit()
            await wait_until(lambda: _names(b, Person) == {"c1", "c2"})
            assert _names(b, Agency) == {"first", "second"}
        finally:
            await shutdown(a, b)

    run(scenario(), timeout=15.0)


def test_rows_naming_rows_of_a_later_burst_wait_for_them(pki, db_factory) -> None:
    # More people than one batch holds (MAX_ROWS): the contractors, oldest, are
    # stored in the first batch, before their agency (another hierarchy, answered
    # after the people) has arrived; they wait for it instead of being refused.
    a, b = _nodes(pki, db_factory)
    crowd = MAX_ROWS + 300

    async def scenario() -> None:
        await a.start()
        await b.start()
        try:
            with a.session() as session:
                session.add(Region(code="eu"))
                session.flush()
                session.add(Agency(name="acme", region="eu"))
                session.flush()
                session.add_all([Person(name=f"p {i}") for i in range(crowd)])
                session.flush()
                session.add_all(
                    [Contractor(name=f"temp {i}", agency="acme") for i in range(5)]
                )
                session.commit()
            await connected(b, a)
            await wait_until(lambda: caught_up_with(b, a), interval=0.05)
            with b.plain() as session:
                count = session.scalar(sa.select(sa.func.count()).select_from(Person))
                assert count == crowd + 5
                agencies = set(session.scalars(sa.select(Contractor.agency)))
                assert agencies == {"acme"}
        finally:
            await shutdown(a, b)

    run(scenario(), timeout=30.0)


def caught_up_with(node: SqlNode, other: SqlNode) -> bool:
    """``node`` recorded a's top serial (every row stored, none held)."""
    with other.plain() as session:
        top = session.scalar(sa.select(sa.func.max(Person.sync_serial)))
    with node.plain() as session:
        serials = session.scalars(
            sa.select(SyncOwner.incoming_serial).where(
                SyncOwner.dest_hash == other.hash
            )
        ).all()
    return bool(serials) and max(serials) >= (top or 0)
