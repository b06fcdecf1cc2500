"""Gate 3, in SQL: the generated exercise package between two nodes over TLS, on SQLite
files and on PostgreSQL.  Node ``staff-a`` runs the exercise; node ``blue-b`` plays blue:
the schema's policy hooks must keep red objects away from it, in both directions."""

from __future__ import annotations

import asyncio
import datetime
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from decimal import Decimal as D
from typing import Any

import sqlalchemy as sa
from exercise_sync import (
    Assignment,
    Base,
    Handoff,
    HelpRequest,
    HelpRequestStatus,
    Machine,
    MachineOs,
    Participant,
    Side,
    Team,
    VirtualMachine,
    new_registry,
)

from entanglegen_examples import hooks as example_hooks
from entanglement.network import SyncServer
from entanglement.sql import (
    SqlSyncDestination,
    SqlSyncRegistry,
    sync_manager_destinations,
)

SqlSyncDestination.you_have_timeout = 0.0


def run(coro: Coroutine[Any, Any, Any], timeout: float = 40.0) -> Any:
    async def bounded() -> Any:
        async with asyncio.timeout(timeout):
            return await coro

    return asyncio.run(bounded())


async def wait_until(predicate: Callable[[], bool]) -> None:
    # The database signals nothing; the scenario timeout bounds the polling.
    while not predicate():  # noqa: ASYNC110
        await asyncio.sleep(0.01)


def _utc(value: datetime.datetime) -> datetime.datetime:
    # SQLite gives naive datetimes back (stored as UTC); PostgreSQL aware ones.
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)


@dataclass
class ExerciseNode:
    name: str
    url: str
    pki_node: Any
    engine: sa.Engine = field(init=False)
    registry: Any = field(init=False)
    manager: Any = None
    port: int = 0

    def __post_init__(self) -> None:
        self.engine = sa.create_engine(self.url)
        SqlSyncRegistry.create_bookkeeping(self.engine)
        Base.metadata.create_all(self.engine)
        self.registry = new_registry(bind=self.engine)

    async def start(self) -> ExerciseNode:
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

    def know(self, other: ExerciseNode, *, connect: bool) -> None:
        with sa.orm.Session(self.engine) as session:
            host, port = ("127.0.0.1", other.port) if connect else (None, None)
            session.add(
                SqlSyncDestination(
                    other.pki_node.hash, other.name, host=host, port=port
                )
            )
            session.commit()
        sync_manager_destinations(self.manager)

    def session(self) -> Any:
        return self.registry.sessionmaker(manager=self.manager)

    def get(self, cls: type[Any], key: Any) -> Any:
        with sa.orm.Session(self.engine) as session:
            obj = session.get(cls, key)
            if obj is not None:
                for attr in sa.inspect(obj).mapper.column_attrs:
                    getattr(obj, attr.key)  # load a subclass's columns before detaching
                session.expunge(obj)
            return obj

    def names(self) -> set[str]:
        with sa.orm.Session(self.engine) as session:
            return set(session.scalars(sa.select(Team.name)))


def _world(session: Any) -> dict[str, Any]:
    red = Team(name="red team", side=Side.RED)
    blue = Team(
        name="blue team", side=Side.BLUE, motto="hold the line", score=D("1234567.5")
    )
    session.add_all([red, blue])
    session.flush()
    alice = Participant(
        team_ref=blue,  # the object for its key: the key is set at flush
        side=Side.BLUE,
        callsign="alice",
        avatar=b"\x89PNG\x00",
        password_hash="never-sent",
        joined_on=datetime.date(2026, 11, 23),
    )
    mallory = Participant(team=red.id, side=Side.RED, callsign="mallory")
    vm = VirtualMachine(
        hostname="web01",
        address="10.0.0.5",
        team=blue.id,
        side=Side.BLUE,
        os=MachineOs.WINDOWS,
        open_ports=[22, 443],
        services={"ssh": "OpenSSH_9.6", "http": "nginx/1.26"},
        hypervisor="hv1",
        snapshot_taken_at=datetime.datetime(2026, 11, 23, 8, 0, tzinfo=datetime.UTC),
    )
    session.add_all([alice, mallory, vm])
    session.flush()
    handoff = Handoff(
        machine=vm.id, sequence=1, side=Side.BLUE, to_participant=alice.id
    )
    request = HelpRequest(
        participant=alice.id,
        side=Side.BLUE,
        machine=vm.id,
        body="web01 is slow",
        labels=["network"],
        score_penalty=0.5,
    )
    red_box = Machine(hostname="c2", address="10.6.6.6", team=red.id, side=Side.RED)
    assignment = Assignment(participant=alice.id, machine=vm.id)
    session.add_all([handoff, request, red_box, assignment])
    session.commit()
    return {
        "blue": blue.id,
        "red": red.id,
        "alice": alice.id,
        "mallory": mallory.id,
        "vm": vm.id,
        "request": request.id,
        "red_box": red_box.id,
    }


def test_exercise_round_trip_with_policy(pki: dict[str, Any], db_factory: Any) -> None:
    async def scenario() -> None:
        staff = await ExerciseNode("staff-a", db_factory("a"), pki["a"]).start()
        blue = await ExerciseNode("blue-b", db_factory("b"), pki["b"]).start()
        try:
            with staff.session() as session:
                ids = _world(session)
            example_hooks.ARRIVED_HELP.clear()
            example_hooks.RETIRED_MACHINES.clear()
            staff.know(blue, connect=False)
            blue.know(staff, connect=True)
            await wait_until(lambda: blue.get(HelpRequest, ids["request"]) is not None)
            # The schema's on_receive hook saw it arrive (no registry subclass).
            assert ids["request"] in [r.id for r in example_hooks.ARRIVED_HELP]
            # table_args: the personal-data columns are in the table's info.
            personal = Participant.__table__.info["personal_columns"]
            assert personal == example_hooks.PERSONAL_COLUMNS
            await wait_until(lambda: blue.get(Handoff, (ids["vm"], 1)) is not None)
            await wait_until(
                lambda: blue.get(Assignment, (ids["alice"], ids["vm"])) is not None
            )

            # What blue sees: every blue object, with every type intact...
            assert blue.names() == {"blue team"}
            # a decimal with every digit (7 before the point, on SQLite a REAL)
            assert str(blue.get(Team, ids["blue"]).score) == "1234567.5"
            alice = blue.get(Participant, ids["alice"])
            assert (alice.callsign, alice.team, alice.side) == (
                "alice",
                ids["blue"],
                Side.BLUE,
            )
            assert alice.joined_on == datetime.date(2026, 11, 23)
            assert alice.avatar == b"\x89PNG\x00"
            assert alice.password_hash is None  # sync: false never leaves its node
            vm = blue.get(Machine, ids["vm"])
            assert type(vm) is VirtualMachine
            assert (vm.hypervisor, vm.os, vm.specs, vm.open_ports) == (
                "hv1",
                MachineOs.WINDOWS,
                {"cpus": 2, "memory_mb": 4096},
                [22, 443],
            )
            assert vm.services == {"ssh": "OpenSSH_9.6", "http": "nginx/1.26"}
            assert vm.snapshot_taken_at is not None
            assert vm.snapshot_taken_at.replace(
                tzinfo=datetime.UTC
            ) == datetime.datetime(2026, 11, 23, 8, 0, tzinfo=datetime.UTC)
            request = blue.get(HelpRequest, ids["request"])
            assert (request.status, request.score_penalty) == (
                HelpRequestStatus.OPEN,
                0.5,
            )
            # Navigation attributes load the referenced objects on the receiving node.
            with sa.orm.Session(blue.engine) as session:
                person = session.get(Participant, ids["alice"])
                assert person is not None
                assert person.team_ref.name == "blue team"
                assert [p.callsign for p in person.team_ref.participants] == ["alice"]
                handoff = session.get(Handoff, (ids["vm"], 1))
                assert handoff is not None
                assert type(handoff.machine_ref) is VirtualMachine
                assert handoff.taker is person
                assert handoff.giver is None
                assert [h.sequence for h in person.handoffs_taken] == [1]
                assert [r.body for r in person.help_requests] == ["web01 is slow"]
                # many-to-many through the Assignment rows that arrived
                assert [m.hostname for m in person.machines] == ["web01"]
                assert [p.callsign for p in handoff.machine_ref.assignees] == ["alice"]

            # Setting only the navigation changes the key, and the key travels.
            with staff.session() as session:
                second = Team(name="blue second", side=Side.BLUE)
                session.get(Participant, ids["alice"]).team_ref = second
                session.commit()
                second_id = second.id
            await wait_until(
                lambda: blue.get(Participant, ids["alice"]).team == second_id
            )

            # ...and nothing red.
            assert blue.get(Participant, ids["mallory"]) is None
            assert blue.get(Machine, ids["red_box"]) is None

            # Blue proposes a change to a staff-owned row: forward, applied by the owner.
            opened = _utc(staff.get(HelpRequest, ids["request"]).updated_at)
            with blue.session() as session:
                row = session.get(HelpRequest, ids["request"])
                row.status = HelpRequestStatus.CLAIMED
                row.labels.append("slow")  # in place: a MutableList marks the row
                session.sync_commit()
            await wait_until(
                lambda: staff.get(HelpRequest, ids["request"]).status
                is HelpRequestStatus.CLAIMED
            )
            # onupdate: now moved the owner's time; blue stores the owner's, exactly.
            assert staff.get(HelpRequest, ids["request"]).labels == ["network", "slow"]
            claimed = _utc(staff.get(HelpRequest, ids["request"]).updated_at)
            assert claimed > opened
            await wait_until(
                lambda: _utc(blue.get(HelpRequest, ids["request"]).updated_at)
                == claimed
            )

            # Blue's own objects reach staff; a red object from blue is refused there.
            with blue.session() as session:
                session.add(Team(name="forged red", side=Side.RED))
                session.commit()
                session.add(Team(name="blue reserve", side=Side.BLUE))
                session.commit()
            await wait_until(lambda: "blue reserve" in staff.names())
            assert "forged red" not in staff.names()

            # Staff award half a point: the sum is exact on the receiving node.
            with staff.session() as session:
                session.get(Team, ids["blue"]).score += D("0.5")
                session.commit()
            await wait_until(lambda: blue.get(Team, ids["blue"]).score == D("1234568"))
            assert str(blue.get(Team, ids["blue"]).score) == "1234568.0"

            # A list item of another type is refused by the receiver, not converted.
            with blue.session() as session:
                bad = HelpRequest(
                    participant=ids["alice"],
                    side=Side.BLUE,
                    body="bad",
                    labels=[5],  # type: ignore[list-item]
                )
                good = HelpRequest(participant=ids["alice"], side=Side.BLUE, body="ok")
                session.add_all([bad, good])
                session.commit()
                bad_id, good_id = bad.id, good.id
            await wait_until(lambda: staff.get(HelpRequest, good_id) is not None)
            assert staff.get(HelpRequest, bad_id) is None

            # A machine deleted by its owner reaches the schema's on_delete hook.
            with staff.session() as session:
                spare = Machine(
                    hostname="spare",
                    address="10.1.1.9",
                    team=ids["blue"],
                    side=Side.BLUE,
                )
                session.add(spare)
                session.commit()
                spare_id = spare.id
            await wait_until(lambda: blue.get(Machine, spare_id) is not None)
            assert deque() == example_hooks.RETIRED_MACHINES
            with staff.session() as session:
                session.delete(session.get(Machine, spare_id))
                session.commit()
            await wait_until(lambda: blue.get(Machine, spare_id) is None)
            assert [m.id for m in example_hooks.RETIRED_MACHINES] == [spare_id]

            # The custom operation reaches the handler the schema names.
            example_hooks.ESCALATIONS.clear()
            with blue.session() as session:
                row = session.get(HelpRequest, ids["request"])
                assert row.sync_owner is not None  # loaded before detaching: sent as id
                session.expunge(row)
            blue.manager.synchronize(row, operation="escalate")
            await wait_until(lambda: len(example_hooks.ESCALATIONS) == 1)
            assert example_hooks.ESCALATIONS[0].id == ids["request"]
        finally:
            await blue.stop()
            await staff.stop()

    run(scenario())
