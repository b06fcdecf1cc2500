"""References to types with composite keys (issue 13) in real databases and over TLS.

The packages are the golden output of ``tests/cases/good_composite_refs``: ``venue_sync``
(SQL: ``Seat`` keyed by hall + number, ``Hall`` by a uuid + a name, tickets referring
to both, a seat referring to its own type, a joined child with a reference of its own)
and ``ushers_sync`` (memory: a reference inside the registry, and one to ``venue.Seat``).
Objects are linked through navigation attributes or keys; the part columns and the
foreign key must follow, a key travels as one array property, and the receiving node
navigates again, on SQLite files and on PostgreSQL.  Values that do not fit a key part
are refused by the receiver (never converted) and the sender learns it.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
import sys
import uuid
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
from gen_helpers import CASES
from test_gen_memory_roundtrip import _connect, wait_until
from test_gen_sql_constraints import _Node, _wait_until, run

from entanglement import refkeys
from entanglement.network import SyncManager, SyncServer
from entanglement.sql import SqlSyncRegistry
from entanglement.types import uuid_encoder

CASE = CASES / "good_composite_refs"
VENUE = uuid.UUID("6f1c1b8e-8f5e-4c47-9d59-5d2b0c1a7e01")


@pytest.fixture(scope="module")
def packages() -> Iterator[tuple[ModuleType, ModuleType]]:
    sys.path.insert(0, str(CASE / "expected"))
    try:
        yield (
            importlib.import_module("venue_sync"),
            importlib.import_module("ushers_sync"),
        )
    finally:
        sys.path.remove(str(CASE / "expected"))


@pytest.fixture
def venue(packages: tuple[ModuleType, ModuleType]) -> ModuleType:
    return packages[0]


def _build(venue: ModuleType, session: Any) -> dict[str, Any]:
    main = venue.Hall(venue=VENUE, name="main")
    a1 = venue.Seat(hall="A", number=1, label="aisle")
    a2 = venue.Seat(hall="A", number=2, next_ref=a1)
    b7 = venue.Seat(hall="B", number=7)
    session.add_all([main, a1, a2, b7])
    session.flush()
    plain = venue.Ticket(holder="ann", seat_ref=a2, hall_ref=main)
    keyed = venue.Ticket(
        holder="bob", seat=venue.SeatKey("B", 7), upgrade=venue.SeatKey("A", 1)
    )
    vip = venue.VipTicket(holder="cyd", seat_ref=b7, lounge_ref=a1)
    session.add_all([plain, keyed, vip])
    session.commit()
    return {"plain": plain.id, "keyed": keyed.id, "vip": vip.id}


def _check(venue: ModuleType, session: Any, ids: dict[str, Any]) -> None:
    a1 = session.get(venue.Seat, ("A", 1))
    a2 = session.get(venue.Seat, ("A", 2))
    b7 = session.get(venue.Seat, ("B", 7))
    main = session.get(venue.Hall, (VENUE, "main"))
    plain = session.get(venue.Ticket, ids["plain"])
    # the navigation set the part columns, and the composite reads them as the key
    assert (plain.seat_hall, plain.seat_number) == ("A", 2)
    assert plain.seat == venue.SeatKey("A", 2) == ("A", 2)
    assert isinstance(plain.seat, venue.SeatKey)
    assert (plain.seat_ref, plain.hall_ref) == (a2, main)
    assert plain.hall == venue.HallKey(VENUE, "main")
    assert plain.upgrade is None  # NULL parts read as no reference
    keyed = session.get(venue.Ticket, ids["keyed"])
    assert (keyed.seat_ref, keyed.upgrade, keyed.hall) == (b7, ("A", 1), None)
    assert sorted(t.holder for t in b7.tickets) == ["bob", "cyd"]
    assert main.tickets == [plain]
    # a reference to its own type, both ways
    assert (a2.next, a2.next_ref, a1.next_ref) == (("A", 1), a1, None)
    assert a1.previous == [a2]
    vip = session.get(venue.Ticket, ids["vip"])
    assert type(vip) is venue.VipTicket
    assert (vip.seat_ref, vip.lounge_ref, vip.lounge) == (b7, a1, ("A", 1))


def test_a_reference_is_one_array_property_over_the_part_columns(
    venue: ModuleType,
) -> None:
    ticket = venue.Ticket(id=uuid.UUID(int=1), holder="x", seat=venue.SeatKey("A", 3))
    hall = venue.HallKey(VENUE, "main")
    ticket.hall = hall
    wire = ticket.to_sync()
    assert wire["seat"] == ["A", 3]
    assert wire["hall"] == [str(VENUE), "main"]  # each part in its own wire form
    assert wire["upgrade"] is None
    assert not {"seat_hall", "seat_number", "hall_venue"} & wire.keys()
    assert (ticket.seat_hall, ticket.seat_number) == ("A", 3)
    assert json.loads(json.dumps(wire))["seat"] == ["A", 3]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["A", "3"], "key part 'number': an integer is expected, got string '3'"),
        (["A", True], "key part 'number': an integer is expected, got boolean True"),
        (["A", 2.0], "key part 'number': an integer is expected, got float 2.0"),
        (["ABCDEFGHI", 3], "key part 'hall': a string of at most 8 characters"),
        (["A"], "an array of 2 key parts [hall, number] is expected"),
        ({"hall": "A", "number": 3}, "an array of 2 key parts [hall, number]"),
        ("A-3", "an array of 2 key parts [hall, number] is expected, got string"),
    ],
)
def test_the_decoder_refuses_what_is_not_a_key(
    venue: ModuleType, value: Any, message: str
) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        venue.models._keys.decode_seat_key(value)


def test_the_encoder_sends_each_part_in_its_wire_form() -> None:
    encode = refkeys.key_encoder(None, uuid_encoder)
    assert encode(("a", VENUE)) == ["a", str(VENUE)]
    with pytest.raises(ValueError, match="a key of 2 parts is expected, got 1 values"):
        encode(("a",))
    assert refkeys.any_none("a", None)
    assert not refkeys.any_none("a", 0)
    with pytest.raises(ValueError, match="one name per key part"):
        refkeys.key_decoder(tuple, ("a",), refkeys.int_part, refkeys.int_part)


def test_uuid_parts_are_canonical_text_only() -> None:
    assert refkeys.uuid_part(str(VENUE)) == VENUE
    for bad in ("", "not-a-uuid", 5, None):
        with pytest.raises(ValueError, match="UUID text is expected"):
            refkeys.uuid_part(bad)


def test_the_database_holds_the_foreign_key_over_the_parts(
    venue: ModuleType, db_factory: Callable[[str], str]
) -> None:
    engine = sa.create_engine(db_factory("venue"))
    try:
        SqlSyncRegistry.create_bookkeeping(engine)
        venue.Base.metadata.create_all(engine)
        keys = {
            fk["name"]: (fk["constrained_columns"], fk["referred_columns"])
            for fk in sa.inspect(engine).get_foreign_keys("tickets")
        }
        assert keys["fk_tickets_seat"] == (
            ["seat_hall", "seat_number"],
            ["hall", "number"],
        )
        assert keys["fk_tickets_hall"] == (
            ["hall_venue", "hall_name"],
            ["venue", "name"],
        )
        registry = venue.new_registry(bind=engine)
        with registry.sessionmaker() as session:
            ids = _build(venue, session)
        with sa.orm.Session(engine) as session:
            _check(venue, session, ids)
        if engine.dialect.name == "postgresql":  # SQLite checks no foreign keys
            with registry.sessionmaker() as session:
                session.add(venue.Ticket(holder="eve", seat=venue.SeatKey("Z", 9)))
                with pytest.raises(sa.exc.IntegrityError, match="fk_tickets_seat"):
                    session.flush()
                session.rollback()
    finally:
        engine.dispose()


def test_composite_references_round_trip_over_tls(
    venue: ModuleType, pki: dict[str, Any], db_factory: Callable[[str], str]
) -> None:
    async def scenario() -> None:
        a = await _Node(venue, db_factory("a"), pki["a"]).start()
        b = await _Node(venue, db_factory("b"), pki["b"]).start()
        try:
            with a.registry.sessionmaker(manager=a.manager) as session:
                ids = _build(venue, session)
            a.know(b, connect=False)
            b.know(a, connect=True)
            await _wait_until(lambda: b.get(venue.Ticket, ids["vip"]) is not None)
            await _wait_until(lambda: b.get(venue.Ticket, ids["keyed"]) is not None)
            with sa.orm.Session(b.engine) as session:
                _check(venue, session, ids)
        finally:
            await b.stop()
            await a.stop()

    run(scenario(), timeout=20.0)


def test_the_exercise_chain_creates_the_composite_foreign_key(
    db_factory: Callable[[str], str],
) -> None:
    # Revision 0005 of the committed exercise package adds a foreign key over the two
    # part columns (on SQLite through batch mode).
    from alembic import command

    from entanglement.sql.upgrade import (
        create_bookkeeping_tables,
        find_package_migrations,
        upgrade_package,
    )

    exercise = importlib.import_module("exercise_sync")  # generated/ (conftest)
    migrations = find_package_migrations("exercise_sync")
    assert migrations is not None
    engine = sa.create_engine(db_factory("chain"))
    try:
        create_bookkeeping_tables(engine)
        upgrade_package(engine, migrations)
        keys = {
            fk["name"]: (fk["constrained_columns"], fk["referred_table"])
            for fk in sa.inspect(engine).get_foreign_keys("participants")
        }
        assert keys["fk_participants_workstation"] == (
            ["workstation_room", "workstation_desk"],
            "workstations",
        )
        registry = exercise.new_registry(bind=engine)
        with (
            registry.sessionmaker() as session
        ):  # the models work on the chain's tables
            team = exercise.Team(name="blue", side=exercise.Side.BLUE)
            desk = exercise.Workstation(room="lab-2", desk=4)
            session.add_all([team, desk])
            session.flush()
            person = exercise.Participant(
                team_ref=team,
                side=exercise.Side.BLUE,
                callsign="al",
                workstation_ref=desk,
            )
            session.add(person)
            session.commit()
            assert person.workstation == exercise.WorkstationKey("lab-2", 4)
            assert desk.occupants == [person]
            assert person.to_sync()["workstation"] == ["lab-2", 4]
        with engine.begin() as conn:  # and the revision undoes its steps
            command.downgrade(migrations.config(conn), "0004")
        inspector = sa.inspect(engine)
        assert "workstations" not in inspector.get_table_names()
        assert "workstation_room" not in {
            c["name"] for c in inspector.get_columns("participants")
        }
    finally:
        engine.dispose()


def test_a_changed_reference_reaches_the_other_node(
    venue: ModuleType, pki: dict[str, Any], tmp_path: Any
) -> None:
    async def scenario() -> None:
        a = await _Node(venue, f"sqlite:///{tmp_path / 'a.sqlite'}", pki["a"]).start()
        b = await _Node(venue, f"sqlite:///{tmp_path / 'b.sqlite'}", pki["b"]).start()
        try:
            with a.registry.sessionmaker(manager=a.manager) as session:
                ids = _build(venue, session)
            a.know(b, connect=False)
            b.know(a, connect=True)
            await _wait_until(lambda: b.get(venue.Ticket, ids["vip"]) is not None)
            # a move made through the navigation alone, and a key set directly
            with a.registry.sessionmaker(manager=a.manager) as session:
                ticket = session.get(venue.Ticket, ids["plain"])
                ticket.seat_ref = session.get(venue.Seat, ("B", 7))
                ticket.upgrade = venue.SeatKey("A", 1)
                session.commit()
            await _wait_until(
                lambda: b.get(venue.Ticket, ids["plain"]).seat == ("B", 7)
            )
            with sa.orm.Session(b.engine) as session:
                moved = session.get(venue.Ticket, ids["plain"])
                assert moved is not None
                assert moved.seat_ref is session.get(venue.Seat, ("B", 7))
                assert moved.upgrade == ("A", 1)
        finally:
            await b.stop()
            await a.stop()

    run(scenario(), timeout=5.0)


def test_memory_references_hold_the_key_tuple(
    packages: tuple[ModuleType, ModuleType],
    pki: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    venue, ushers = packages

    async def scenario() -> None:
        ra, rb = ushers.new_registry(), ushers.new_registry()
        a, b = pki["a"], pki["b"]
        srv = SyncServer(a.cert, 0, key=a.key, cafile=a.cafile, registries=[ra])
        cli = SyncManager(b.cert, 0, key=b.key, cafile=b.cafile, registries=[rb])
        async with srv, cli:
            await _connect(srv, cli, a, b)
            post = ushers.Post(area="north", spot=2)
            ra.store_synchronize(post)
            usher = ushers.Usher(
                name="uma",
                post=ushers.PostKey("north", 2),
                watching=venue.SeatKey("A", 1),
            )
            ra.store_synchronize(usher)
            far = rb.store_for_class(ushers.Usher)
            await wait_until(lambda: "uma" in far)
            got = far["uma"]
            assert got.post == ("north", 2)
            assert isinstance(got.post, ushers.PostKey)
            assert got.watching == venue.SeatKey("A", 1)
            # the reference is the key the target's store uses
            posts = rb.store_for_class(ushers.Post)
            await wait_until(lambda: got.post in posts)
            assert posts[got.post].area == "north"

            # a key part of the wrong type is refused by the receiver, never converted
            bad = ushers.Usher(name="bad", post=ushers.PostKey("south", "3"))
            ra.store_synchronize(bad)
            after = ushers.Usher(name="after", post=ushers.PostKey("south", 3))
            ra.store_synchronize(after)
            await wait_until(lambda: "after" in far)
            assert "bad" not in far

    with caplog.at_level(logging.INFO, logger="entanglement"):
        run(scenario())
    refused = [
        r.getMessage() for r in caplog.records if "key part 'spot'" in r.getMessage()
    ]
    assert refused, [r.getMessage() for r in caplog.records]
    assert any("staff" in text for text in refused), refused  # the peer is named
