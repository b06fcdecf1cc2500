"""Generated SQL packages with ``decimal``, ``list`` and ``map`` columns between two nodes.

The packages are the golden outputs of ``tests/cases/good_sql_decimal`` and
``tests/cases/good_sql_lists``, imported as committed, each on SQLite files and on
PostgreSQL, the nodes talking over TLS on 127.0.0.1.  Decimals must arrive with every digit
(30 digits, beyond what SQLite's REAL keeps, and trailing zeros of the scale); lists and
maps must arrive typed, and a change made in place (``append``, a new key) must travel.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal as D
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
from gen_helpers import CASES
from test_gen_sql_constraints import _Node as _PackageNode
from test_gen_sql_constraints import _wait_until, run

from entanglement.sql import SqlSyncDestination

SqlSyncDestination.you_have_timeout = 0.0


def _forget_shop_sync() -> None:
    # Every golden case names its package shop_sync: import each one afresh.
    for name in [n for n in sys.modules if n.split(".")[0] == "shop_sync"]:
        del sys.modules[name]


def _golden(case: str) -> Iterator[ModuleType]:
    expected = str(CASES / case / "expected")
    _forget_shop_sync()
    sys.path.insert(0, expected)
    try:
        yield importlib.import_module("shop_sync")
    finally:
        sys.path.remove(expected)
        _forget_shop_sync()


@pytest.fixture
def decimals() -> Iterator[ModuleType]:
    yield from _golden("good_sql_decimal")


@pytest.fixture
def lists() -> Iterator[ModuleType]:
    yield from _golden("good_sql_lists")


class _Node(_PackageNode):
    """The two-node set-up of test_gen_sql_constraints, with what these tests read."""

    def session(self) -> Any:
        return self.registry.sessionmaker(manager=self.manager)

    def row(self, cls: type[Any], key: Any) -> dict[str, Any]:
        """The stored row's properties, or {} when there is no such row (yet)."""
        with sa.orm.Session(self.engine) as session:
            obj = session.get(cls, key)
            if obj is None:
                return {}
            attrs = sa.inspect(obj).mapper.column_attrs
            # the schema's properties, not the runtime's bookkeeping (owner, serial)
            return {
                a.key: getattr(obj, a.key)
                for a in attrs
                if not a.key.startswith("sync_")
            }


async def _pair(
    package: ModuleType, pki: dict[str, Any], db_factory: Callable[[str], str]
) -> tuple[_Node, _Node]:
    a = await _Node(package, db_factory("a"), pki["a"]).start()
    b = await _Node(package, db_factory("b"), pki["b"]).start()
    return a, b


def _connect(a: _Node, b: _Node) -> None:
    a.know(b, connect=False)
    b.know(a, connect=True)


def test_decimals_arrive_with_every_digit(
    decimals: ModuleType, pki: dict[str, Any], db_factory: Callable[[str], str]
) -> None:
    product = decimals.Product

    async def scenario() -> None:
        a, b = await _pair(decimals, pki, db_factory)
        try:
            with a.session() as session:
                session.add_all(
                    [
                        product(
                            sku="gold",
                            price=D("9999999999.99"),
                            weight_kg=D("0.001"),
                            exchange_rate=D("123456789012345678.123456789012"),
                            whole_units=D("99999"),
                        ),
                        product(sku="free", whole_units=D("-1")),  # the defaults
                    ]
                )
                session.commit()
            _connect(a, b)
            await _wait_until(lambda: bool(b.row(product, "free")))
            gold, free = b.row(product, "gold"), b.row(product, "free")
            assert {k: str(v) for k, v in gold.items()} == {
                "sku": "gold",
                "price": "9999999999.99",
                "weight_kg": "0.001",
                "exchange_rate": "123456789012345678.123456789012",
                "whole_units": "99999",
            }
            assert (free["price"], free["weight_kg"]) == (D("0.00"), None)
            assert (free["exchange_rate"], free["whole_units"]) == (D("1"), D("-1"))
            assert free == a.row(product, "free")  # what the owner holds, exactly

            with a.session() as session:
                session.get(product, "gold").price = D("0.10")
                session.commit()
            await _wait_until(lambda: b.row(product, "gold")["price"] == D("0.10"))
            assert str(b.row(product, "gold")["price"]) == "0.10"
        finally:
            await b.stop()
            await a.stop()

    run(scenario())


def test_lists_and_maps_arrive_typed_and_follow_in_place_changes(
    lists: ModuleType, pki: dict[str, Any], db_factory: Callable[[str], str]
) -> None:
    product = lists.Product

    async def scenario() -> None:
        a, b = await _pair(lists, pki, db_factory)
        try:
            with a.session() as session:
                session.add_all(
                    [
                        product(
                            sku="boots",
                            tags=["winter", "leather"],
                            sizes=[41, 42, 43],
                            stock={"berlin": 3, "lyon": 0},
                            ratings={"five": 4.5, "one": 1.0},
                            flags=[False, True],
                        ),
                        product(sku="plain"),  # the defaults
                    ]
                )
                session.commit()
            _connect(a, b)
            await _wait_until(lambda: bool(b.row(product, "plain")))
            assert b.row(product, "boots") == {
                "sku": "boots",
                "tags": ["winter", "leather"],
                "sizes": [41, 42, 43],
                "stock": {"berlin": 3, "lyon": 0},
                "ratings": {"five": 4.5, "one": 1.0},
                "flags": [False, True],
            }
            assert b.row(product, "plain") == {
                "sku": "plain",
                "tags": [],
                "sizes": None,
                "stock": {},
                "ratings": {"five": 5.0},
                "flags": [True],
            }

            with a.session() as session:
                boots = session.get(product, "boots")
                boots.tags.append("sale")  # in place: the mutable column marks the row
                boots.stock["paris"] = 7
                session.commit()
            await _wait_until(lambda: "sale" in b.row(product, "boots")["tags"])
            got = b.row(product, "boots")
            assert got["tags"] == ["winter", "leather", "sale"]
            assert got["stock"] == {"berlin": 3, "lyon": 0, "paris": 7}
        finally:
            await b.stop()
            await a.stop()

    run(scenario())


def test_golden_packages_are_the_committed_ones() -> None:
    # The fixtures import these directories; the golden test keeps them current.
    for case in ("good_sql_decimal", "good_sql_lists"):
        package = CASES / case / "expected" / "shop_sync"
        assert (package / "models" / "product.py").is_file(), package
        assert Path(package / "py.typed").is_file()
