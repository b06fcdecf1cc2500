"""The IHave answer reads rows with Core (issue 12 item 2), over TLS on SQLite and PostgreSQL.

A single-table hierarchy (``Shape``, with ``Circle`` and ``Square`` adding columns to its
table) is read by Core straight into instances; a joined-table one (``Vehicle`` /
``Truck``) by the ORM.  Both go through the same send body: a fresh peer gets every row
exactly once, values intact, across batches whose last serial is shared by many rows
(one commit = one serial), and the application's ``should_send`` sees every row and its
veto holds.  On SQLite the batches of a large answer walk the ``sync_serial`` index
(no sort of all the owner's rows per batch).
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sql_helpers import CountingRegistry, SqlNode, connected, run, shutdown, wait_until
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from entanglement.sql import GUID, SqlSynchronizable, SyncOwner
from entanglement.sql.resync import rows


class Base(SqlSynchronizable, DeclarativeBase):
    sync_registry = CountingRegistry()


class Shape(Base):
    __tablename__ = "shape"
    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(40))
    __mapper_args__ = {  # noqa: RUF012 - read by SQLAlchemy
        "polymorphic_on": "kind",
        "polymorphic_identity": "shape",
    }


class Circle(Shape):
    radius: Mapped[float | None] = mapped_column(nullable=True)
    __mapper_args__ = {"polymorphic_identity": "circle"}  # noqa: RUF012


class Square(Shape):
    side: Mapped[int | None] = mapped_column(nullable=True)
    __mapper_args__ = {"polymorphic_identity": "square"}  # noqa: RUF012


class Vehicle(Base):
    __tablename__ = "vehicle"
    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(40))
    __mapper_args__ = {  # noqa: RUF012 - read by SQLAlchemy
        "polymorphic_on": "kind",
        "polymorphic_identity": "vehicle",
    }


class Truck(Vehicle):
    __tablename__ = "truck"
    id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vehicle.id"), primary_key=True)
    load: Mapped[int]
    __mapper_args__ = {"polymorphic_identity": "truck"}  # noqa: RUF012


MODELS = (Shape, Circle, Square, Vehicle, Truck)


class VetoRegistry(CountingRegistry):
    """An application registry whose should_send keeps squares labelled "private"."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.asked: set[str] = set()

    def should_send(self, obj: Any, destination: Any = None, **info: Any) -> bool:
        if isinstance(obj, Shape):
            self.asked.add(obj.label)
        return not (isinstance(obj, Square) and obj.label.startswith("private"))


def fill(node: SqlNode) -> dict[str, tuple[Any, ...]]:
    """Commit shapes and vehicles in groups (one serial each); returns label → values."""
    expected: dict[str, tuple[Any, ...]] = {}
    groups = [1500, 1700, 1, 1, 900]  # a batch's BATCH-th row falls inside a group
    n = 0
    for size in groups:
        with node.session() as session:
            for _ in range(size):
                n += 1
                if n % 3 == 0:
                    label = f"private {n}" if n % 6 == 0 else f"square {n}"
                    session.add(Square(label=label, side=n))
                    expected[label] = ("square", None, n)
                else:
                    session.add(Circle(label=f"circle {n}", radius=n / 4))
                    expected[f"circle {n}"] = ("circle", n / 4, None)
            session.commit()
    with node.session() as session:
        session.add_all([Vehicle(name="car"), Truck(name="lorry", load=7)])
        session.commit()
    return expected


def shapes(node: SqlNode) -> dict[str, tuple[Any, ...]]:
    with node.plain() as session:
        rows = session.scalars(sa.select(Shape)).all()
        return {
            r.label: (r.kind, getattr(r, "radius", None), getattr(r, "side", None))
            for r in rows
        }


def vehicles(node: SqlNode) -> dict[str, Any]:
    with node.plain() as session:
        return {
            v.name: getattr(v, "load", None)
            for v in session.scalars(sa.select(Vehicle))
        }


def test_core_catch_up_of_both_hierarchies(pki: Any, db_factory: Any) -> None:
    async def scenario() -> None:
        a = SqlNode("a", db_factory("a"), pki["a"], models=MODELS)
        a.registry = VetoRegistry(bind=a.engine)
        for cls in MODELS:
            a.registry.register_syncable(cls.sync_type, cls)
        await a.start()
        b = await SqlNode("b", db_factory("b"), pki["b"], models=MODELS).start()
        try:
            expected = fill(a)
            await connected(b, a)
            shown = {k: v for k, v in expected.items() if not k.startswith("private")}
            await wait_until(lambda: len(shapes(b)) >= len(shown))
            await wait_until(lambda: vehicles(b) == {"car": None, "lorry": 7})
            assert shapes(b) == shown
            assert b.registry.count("sync", "Circle") + b.registry.count(
                "sync", "Square"
            ) == len(
                shown
            )  # every row once
            assert a.registry.asked == set(expected)  # the hook saw every row
        finally:
            await shutdown(a, b)

    run(scenario(), timeout=60)


def test_sqlite_batches_walk_the_serial_index(tmp_path: Any, pki: Any) -> None:
    async def scenario() -> None:
        a = await SqlNode(
            "a", f"sqlite:///{tmp_path / 'a.sqlite'}", pki["a"], models=MODELS
        ).start()
        try:
            fill(a)
            with a.plain() as session:
                owner = session.scalars(sa.select(SyncOwner.id)).one()
                owned = rows.owner_condition(None, owner)
                reader = rows.row_reader(session, Shape, owned, (0, 10**9), owner)
                stmt = reader.rows_of.where(reader.serial > 0).order_by(reader.serial)
                sql = str(
                    stmt.compile(a.engine, compile_kwargs={"literal_binds": True})
                )
                plan = " ".join(
                    str(row)
                    for row in session.execute(sa.text(f"EXPLAIN QUERY PLAN {sql}"))
                )
            assert "sync_serial" in plan, plan
            assert "TEMP B-TREE" not in plan, plan
            assert rows.core_plan(Shape) is not None
            assert rows.core_plan(Vehicle) is None  # joined tables: the ORM reads
        finally:
            await shutdown(a)

    run(scenario())
