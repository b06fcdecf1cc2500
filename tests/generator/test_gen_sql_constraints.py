"""Table options of the schema language in real databases (SQLite files, PostgreSQL).

The package is the golden output of ``tests/cases/good_sql_constraints`` (every option:
property ``unique``/``index``/``check``/``onupdate``/``server_default``, type
``indexes``/``unique``/``table_args`` through the case's ``shop_tables`` hook), imported
as committed.  Each option must hold in the database itself, and rows must keep their
values between two nodes over TLS: the receiver's ``onupdate`` never replaces the
owner's time.
"""

from __future__ import annotations

import asyncio
import datetime
import importlib
import sys
from collections.abc import Callable, Coroutine, Iterator
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
from gen_helpers import CASES

from entanglement.network import SyncServer
from entanglement.sql import (
    SqlSyncDestination,
    SqlSyncRegistry,
    sync_manager_destinations,
)

CASE = CASES / "good_sql_constraints"


@pytest.fixture(scope="module")
def shop() -> Iterator[ModuleType]:
    sys.path[:0] = [str(CASE / "expected"), str(CASE)]
    try:
        yield importlib.import_module("shop_sync")
    finally:
        sys.path.remove(str(CASE / "expected"))
        sys.path.remove(str(CASE))


def run(coro: Coroutine[Any, Any, Any], timeout: float = 40.0) -> Any:
    async def bounded() -> Any:
        async with asyncio.timeout(timeout):
            return await coro

    return asyncio.run(bounded())


@pytest.fixture
def engine(shop: ModuleType, db_factory: Callable[[str], str]) -> Iterator[sa.Engine]:
    engine = sa.create_engine(db_factory("shop"))
    SqlSyncRegistry.create_bookkeeping(engine)
    shop.Base.metadata.create_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def _names(engine: sa.Engine, table: str) -> set[str]:
    inspector = sa.inspect(engine)
    found = {i["name"] for i in inspector.get_indexes(table)}
    found |= {c["name"] for c in inspector.get_unique_constraints(table)}
    found |= {c["name"] for c in inspector.get_check_constraints(table)}
    return {n for n in found if n}


def test_every_constraint_is_created_under_its_name(engine: sa.Engine) -> None:
    assert {
        "uq_warehouses_code",
        "ck_warehouses_code",
        "ix_warehouses_name",
    } <= _names(engine, "warehouses")
    assert {
        "ck_items_quantity",
        "ix_items_warehouse_sku",
        "items_by_name",
        "uq_items_warehouse_name",
        "ck_items_price_active",  # from the table_args hook
    } <= _names(engine, "items")
    perishables = _names(engine, "perishables")
    assert "ix_perishables_id_best_before" in perishables
    # past PostgreSQL's 63 characters the name is cut and given a digest
    assert "ix_perishables_a_very_long_property_name_that_makes_th_defad896" in (
        perishables
    )
    unique = {i["name"]: i["unique"] for i in sa.inspect(engine).get_indexes("items")}
    assert unique["ix_items_warehouse_sku"]
    assert not unique["items_by_name"]


def _stock(shop: ModuleType, session: Any, **item: Any) -> Any:
    house = shop.Warehouse(code="W1", name="main")
    session.add(house)
    session.flush()
    row = shop.Item(warehouse=house.id, sku="S1", name="bolt", **item)
    session.add(row)
    session.flush()
    return row


@pytest.mark.parametrize(
    ("make", "constraint"),
    [
        (lambda shop, s: _stock(shop, s, quantity=-1), "ck_items_quantity"),
        (lambda shop, s: _stock(shop, s, price=-1.0), "ck_items_price_active"),
        (
            lambda shop, s: s.add(shop.Warehouse(code="X", name="tiny")) or s.flush(),
            "ck_warehouses_code",
        ),
        (
            lambda shop, s: [
                s.add(shop.Warehouse(code="W2", name=n)) or s.flush()
                for n in ("a", "b")
            ],
            "uq_warehouses_code",
        ),
        (
            lambda shop, s: s.add(
                shop.Item(warehouse=_stock(shop, s).warehouse, sku="S2", name="bolt")
            )
            or s.flush(),
            "uq_items_warehouse_name",
        ),
    ],
    ids=["check", "hook-check", "length-check", "unique", "composite-unique"],
)
def test_the_database_refuses_rows_that_break_a_constraint(
    shop: ModuleType, engine: sa.Engine, make: Any, constraint: str
) -> None:
    registry = shop.new_registry(bind=engine)
    with registry.sessionmaker() as session:
        with pytest.raises(sa.exc.IntegrityError) as caught:
            make(shop, session)
        session.rollback()
    # SQLite names the failing check constraint; both name unique columns or constraints
    text = str(caught.value.orig)
    assert constraint in text or "UNIQUE" in text or "unique" in text, text


def test_server_defaults_fill_rows_written_by_other_programs(
    shop: ModuleType, engine: sa.Engine
) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO warehouses (id, code, name, sync_serial) "
                "VALUES ('00000000000000000000000000000001', 'W9', 'raw', 1)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO items (id, sync_kind, warehouse, sku, name, sync_serial) "
                "VALUES "
                "('00000000000000000000000000000002', 'Item', "
                "'00000000000000000000000000000001', 'S9', 'raw', 1)"
            )
        )
    with shop.new_registry(bind=engine).sessionmaker() as session:
        item = session.scalars(sa.select(shop.Item)).one()
        assert (item.quantity, item.unit, item.active) == (0, shop.Unit.PIECE, True)
        assert (item.price, item.since, item.note) == (
            1.5,
            datetime.date(2026, 1, 2),
            "it's new",
        )
        assert isinstance(item.updated_at, datetime.datetime)


def test_onupdate_moves_the_time_on_every_orm_update(
    shop: ModuleType, engine: sa.Engine
) -> None:
    long_ago = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    with shop.new_registry(bind=engine).sessionmaker() as session:
        item = _stock(shop, session, updated_at=long_ago)
        session.commit()
        assert item.updated_at.replace(tzinfo=datetime.UTC) == long_ago
        item.quantity = 5
        session.commit()
        assert item.updated_at.replace(tzinfo=datetime.UTC) > long_ago


async def _wait_until(predicate: Callable[[], bool]) -> None:
    # The database signals nothing; the scenario timeout bounds the polling.
    while not predicate():  # noqa: ASYNC110
        await asyncio.sleep(0.01)


class _Node:
    def __init__(self, shop: ModuleType, url: str, pki_node: Any) -> None:
        self.shop, self.pki_node = shop, pki_node
        self.engine = sa.create_engine(url)
        SqlSyncRegistry.create_bookkeeping(self.engine)
        shop.Base.metadata.create_all(self.engine)
        self.registry = shop.new_registry(bind=self.engine)
        self.manager: Any = None
        self.port = 0

    async def start(self) -> _Node:
        node = self.pki_node
        self.manager = SyncServer(
            node.cert, 0, key=node.key, cafile=node.cafile, registries=[self.registry]
        )
        listener = await self.manager.listen_ssl(0, "127.0.0.1")
        self.port = int(listener.sockets[0].getsockname()[1])
        sync_manager_destinations(self.manager)
        return self

    async def stop(self) -> None:
        self.manager.session.close()
        await self.manager.aclose()
        self.engine.dispose()

    def know(self, other: _Node, *, connect: bool) -> None:
        host, port = ("127.0.0.1", other.port) if connect else (None, None)
        with sa.orm.Session(self.engine) as session:
            session.add(
                SqlSyncDestination(other.pki_node.hash, "peer", host=host, port=port)
            )
            session.commit()
        sync_manager_destinations(self.manager)

    def get(self, cls: type[Any], key: Any) -> Any:
        with sa.orm.Session(self.engine) as session:
            obj = session.get(cls, key)
            if obj is not None:
                for attr in sa.inspect(obj).mapper.column_attrs:
                    getattr(obj, attr.key)
                session.expunge(obj)
            return obj


def _utc(value: datetime.datetime) -> datetime.datetime:
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)


def test_round_trip_keeps_the_owners_values(
    shop: ModuleType, pki: dict[str, Any], db_factory: Callable[[str], str]
) -> None:
    long_ago = datetime.datetime(2020, 1, 1, 12, 30, tzinfo=datetime.UTC)

    async def scenario() -> None:
        a = await _Node(shop, db_factory("a"), pki["a"]).start()
        b = await _Node(shop, db_factory("b"), pki["b"]).start()
        try:
            with a.registry.sessionmaker(manager=a.manager) as session:
                item = _stock(shop, session, updated_at=long_ago, quantity=3)
                fresh = shop.Perishable(
                    warehouse=item.warehouse,
                    sku="S2",
                    name="milk",
                    best_before=datetime.date(2026, 12, 24),
                )
                session.add(fresh)
                session.commit()
                ids = (item.id, fresh.id)
            a.know(b, connect=False)
            b.know(a, connect=True)
            await _wait_until(lambda: b.get(shop.Perishable, ids[1]) is not None)
            copy = b.get(shop.Item, ids[0])
            assert (copy.quantity, _utc(copy.updated_at)) == (3, long_ago)
            milk = b.get(shop.Perishable, ids[1])
            assert milk.best_before == datetime.date(2026, 12, 24)

            with a.registry.sessionmaker(manager=a.manager) as session:
                session.get(shop.Item, ids[0]).quantity = 7
                session.commit()
            owner = a.get(shop.Item, ids[0])
            assert _utc(owner.updated_at) > long_ago  # onupdate on the owner
            await _wait_until(lambda: b.get(shop.Item, ids[0]).quantity == 7)
            # the receiver stores the owner's time; its own onupdate does not fire
            assert _utc(b.get(shop.Item, ids[0]).updated_at) == _utc(owner.updated_at)
        finally:
            await b.stop()
            await a.stop()

    run(scenario())


def test_the_exercise_chain_adds_checks_and_server_defaults(
    db_factory: Callable[[str], str],
) -> None:
    # Alembic's comparison (tests/sql/test_sql_upgrade_packages.py) leaves out check
    # constraints and server defaults: the hand-written part of rev_0002 is checked here.
    from alembic import command

    from entanglement.sql.schema.upgrade import (
        create_bookkeeping_tables,
        find_package_migrations,
        upgrade_package,
    )

    importlib.import_module("exercise_sync")  # generated/ is on sys.path (conftest)
    migrations = find_package_migrations("exercise_sync")
    assert migrations is not None
    engine = sa.create_engine(db_factory("chain"))
    try:
        create_bookkeeping_tables(engine)
        upgrade_package(engine, migrations)
        inspector = sa.inspect(engine)
        checks = {
            table: {c["name"] for c in inspector.get_check_constraints(table)}
            for table in ("participants", "handoffs", "help_requests")
        }
        assert checks == {
            "participants": {"ck_participants_callsign"},
            "handoffs": {"ck_handoffs_sequence"},
            "help_requests": {"ck_help_requests_score_penalty"},
        }
        defaults = {
            c["name"]: c["default"] for c in inspector.get_columns("help_requests")
        }
        assert defaults["updated_at"] is not None
        assert "0" in str(defaults["score_penalty"])
        with engine.begin() as conn:  # and the revision undoes every step
            command.downgrade(migrations.config(conn), "0001")
        inspector = sa.inspect(engine)
        assert inspector.get_check_constraints("help_requests") == []
        assert "updated_at" not in {
            c["name"] for c in inspector.get_columns("help_requests")
        }
        assert inspector.get_unique_constraints("teams") == []
    finally:
        engine.dispose()
