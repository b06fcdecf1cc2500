"""Exact decimals and typed lists/maps: the runtime codecs (``entanglement.exact``) and the
SQL column type (``entanglement.sql.schema.exact.ExactDecimal``) on SQLite files and PostgreSQL,
and decimals between two SQL nodes over TLS, exact on both databases."""

from __future__ import annotations

import decimal
import types
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from test_gen_sql_constraints import _Node, _wait_until, run

from entanglement.exact import (
    decimal_decoder,
    decimal_encoder,
    list_decoder,
    map_decoder,
)
from entanglement.interface import sync_property
from entanglement.sql import SqlSyncRegistry
from entanglement.sql.base import SqlSynchronizable
from entanglement.sql.schema.exact import ExactDecimal
from entanglement.sql.schema.types import GUID
from entanglement.types import lookup_codec

D = decimal.Decimal


def test_decimal_wire_form_is_plain_text_with_its_digits() -> None:
    assert decimal_encoder(D("12.50")) == "12.50"
    assert decimal_encoder(D("1E+3")) == "1000"
    assert decimal_encoder(D("-0.001")) == "-0.001"
    with pytest.raises(ValueError, match="finite"):
        decimal_encoder(D("NaN"))
    codec = lookup_codec(decimal.Decimal)
    assert codec is not None
    assert codec.decoder("2.50") == D("2.50")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (12.5, "float"),  # a number would have passed through a double
        (True, "boolean"),
        ("1e3", "as text"),
        ("12.", "as text"),
        (" 1", "as text"),
        ("1" * 2000, "as text"),
        ("12.345", "3 digits after the point; at most 2"),
        ("1234567890123", "13 digits before the point; at most 10"),
    ],
)
def test_decimal_decoder_refuses_what_does_not_fit(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decimal_decoder(12, 2)(value)


def test_decimal_decoder_keeps_digits() -> None:
    decode = decimal_decoder(12, 2)
    assert str(decode("0.10")) == "0.10"
    assert decode("-9999999999.99") == D("-9999999999.99")
    assert decode("7") == 7


def test_list_and_map_decoders_check_every_item() -> None:
    assert list_decoder("float")([1, 2.5]) == [1, 2.5]  # an int is a float
    with pytest.raises(ValueError, match="holds boolean"):
        list_decoder("int")([1, True])
    with pytest.raises(ValueError, match="list of str"):
        list_decoder("str")("abc")
    assert map_decoder("bool")({"a": True}) == {"a": True}
    with pytest.raises(ValueError, match="map of str to int"):
        map_decoder("int")({"a": 2.5})
    with pytest.raises(ValueError, match="map of str to str"):
        map_decoder("str")(["a"])
    data = [1, 2]
    assert list_decoder("int")(data) is not data  # a fresh list, not the message's


class _Base(DeclarativeBase):
    pass


class _Amounts(_Base):
    __tablename__ = "amounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    money: Mapped[decimal.Decimal | None] = mapped_column(ExactDecimal(15, 2))
    wide: Mapped[decimal.Decimal | None] = mapped_column(ExactDecimal(40, 20))


@pytest.fixture
def amounts(db_factory: Callable[[str], str]) -> Any:
    engine = sa.create_engine(db_factory("amounts"))
    _Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


VALUES = [
    D("1234567890123.45"),  # 15 digits: exact through SQLite's REAL
    D("0.10"),
    D("-0.01"),
    D("100"),
]


def test_exact_decimal_column_keeps_every_digit(amounts: sa.Engine) -> None:
    wide = D("12345678901234567890.12345678901234567890")
    with sa.orm.Session(amounts) as session:
        session.add_all(_Amounts(id=i, money=v) for i, v in enumerate(VALUES))
        session.add(_Amounts(id=99, wide=wide))
        session.commit()
    with sa.orm.Session(amounts) as session:
        rows = session.scalars(
            sa.select(_Amounts).where(_Amounts.money.is_not(None)).order_by(_Amounts.id)
        )
        assert [str(r.money) for r in rows] == [
            "1234567890123.45",
            "0.10",
            "-0.01",
            "100.00",
        ]
        stored = session.get(_Amounts, 99)
        assert stored is not None
        assert stored.wide == wide
        # stored as a number (REAL on SQLite, NUMERIC on PostgreSQL): SQL sorts by value
        ordered = session.scalars(
            sa.select(_Amounts.money)
            .where(_Amounts.money.is_not(None))
            .order_by(_Amounts.money)
        )
        assert list(ordered) == sorted(VALUES)


@pytest.mark.parametrize("bad", [D("0.001"), D("12345678901234.5"), D("NaN"), 1.5])
def test_exact_decimal_column_refuses_instead_of_rounding(
    amounts: sa.Engine, bad: Any
) -> None:
    with sa.orm.Session(amounts) as session:
        session.add(_Amounts(id=1, money=bad))
        with pytest.raises(sa.exc.StatementError):
            session.flush()


# -- two nodes ---------------------------------------------------------------------

_registry = SqlSyncRegistry()


class _LedgerBase(SqlSynchronizable, DeclarativeBase):
    sync_registry = _registry


class Entry(_LedgerBase):
    __tablename__ = "entries"
    sync_type = "Entry"
    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    amount: Mapped[decimal.Decimal] = sync_property(
        mapped_column(ExactDecimal(15, 2), nullable=False),
        encoder=decimal_encoder,
        decoder=decimal_decoder(15, 2),
    )
    rate: Mapped[decimal.Decimal] = sync_property(
        mapped_column(ExactDecimal(30, 18), nullable=False),
        encoder=decimal_encoder,
        decoder=decimal_decoder(30, 18),
    )


def _new_registry(bind: Any) -> SqlSyncRegistry:
    fresh = SqlSyncRegistry(bind=bind)
    fresh.register_syncable(Entry.sync_type, Entry)
    return fresh


LEDGER: Any = types.SimpleNamespace(  # the two names _Node uses of a package
    Base=_LedgerBase, new_registry=_new_registry
)


def test_decimals_travel_exactly_between_sql_nodes(
    pki: dict[str, Any], db_factory: Callable[[str], str]
) -> None:
    rate = D("0.000000000000000001")  # 18 places: text on SQLite, NUMERIC on PostgreSQL

    async def scenario() -> None:
        a = await _Node(LEDGER, db_factory("a"), pki["a"]).start()
        b = await _Node(LEDGER, db_factory("b"), pki["b"]).start()
        try:
            with a.registry.sessionmaker(manager=a.manager) as session:
                entries = [Entry(amount=v, rate=rate) for v in VALUES]
                session.add_all(entries)
                session.commit()
                ids = [e.id for e in entries]
            a.know(b, connect=False)
            b.know(a, connect=True)
            await _wait_until(lambda: all(b.get(Entry, i) is not None for i in ids))
            got = [b.get(Entry, i) for i in ids]
            assert [str(e.amount) for e in got] == [
                "1234567890123.45",
                "0.10",
                "-0.01",
                "100.00",
            ]
            assert {e.rate for e in got} == {rate}
        finally:
            await b.stop()
            await a.stop()

    run(scenario())
