"""Typing probe of the generated packages: checked by mypy --strict in test_gen_typing.

Never executed by pytest (no test functions); each ``assert_type`` pins what a user of
the generated code sees in an editor.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any, Protocol, assert_type

from exercise_sync import (
    ExerciseRegistry,
    Handoff,
    HelpRequest,
    HelpRequestStatus,
    Machine,
    Participant,
    Side,
    Team,
    VirtualMachine,
    Workstation,
    WorkstationKey,
    registry,
)
from presence_sync import (
    Beacon,
    Cursor,
    Ping,
    Position,
    PresenceRegistry,
    Seat,
    SeatKey,
)
from presence_sync import registry as presence_registry
from sqlalchemy.orm import InstrumentedAttribute

from entanglement.memory import SyncStoreRegistry
from entanglement.sql.base import SqlSyncRegistry


def sql_models(
    team: Team, person: Participant, vm: VirtualMachine, req: HelpRequest
) -> None:
    assert_type(team.id, uuid.UUID)
    assert_type(team.name, str)
    assert_type(team.motto, str | None)
    assert_type(team.side, Side)
    assert_type(team.score, decimal.Decimal)
    assert_type(person.team, uuid.UUID)
    assert_type(person.joined_on, datetime.date)
    assert_type(person.avatar, bytes | None)
    assert_type(person.password_hash, str | None)
    assert_type(vm.hostname, str)
    assert_type(vm.hypervisor, str)
    assert_type(vm.snapshot_taken_at, datetime.datetime | None)
    assert_type(vm.specs, Any)
    assert_type(req.status, HelpRequestStatus)
    assert_type(req.score_penalty, float)
    assert_type(req.machine, uuid.UUID | None)
    assert_type(req.labels, list[str])
    assert_type(req.updated_at, datetime.datetime)
    assert_type(vm.open_ports, list[int])
    assert_type(vm.services, dict[str, str])
    assert_type(Team.score, InstrumentedAttribute[decimal.Decimal])
    assert_type(Team.name, InstrumentedAttribute[str])
    assert_type(Machine.compromised, InstrumentedAttribute[bool])
    assert_type(registry, ExerciseRegistry)
    reg: SqlSyncRegistry = registry
    del reg


def memory_types() -> None:
    who = uuid.uuid4()
    cursor = Cursor(participant=who, board="map", side=Side.BLUE)
    assert_type(cursor.x, float)
    assert_type(cursor.color, int)
    assert_type(cursor.participant, uuid.UUID)
    assert_type(cursor.side, Side)
    beacon = Beacon(participant=who, room="hall", x=1.0, y=2.0, label="door")
    assert_type(beacon.label, str)
    assert_type(beacon.heading, float | None)
    assert_type(beacon.icon, bytes | None)
    assert_type(beacon.updated_at, datetime.datetime)
    assert_type(beacon.battery_volts, decimal.Decimal | None)
    assert_type(beacon.zones, list[str])
    assert_type(beacon.signal, dict[str, int])
    position: Position = beacon
    del position
    ping = Ping(participant=who, board="map", x=0.5, y=0.5)
    assert_type(ping.payload, Any)
    assert_type(ping.local_note, str)
    assert_type(presence_registry, PresenceRegistry)
    base: SyncStoreRegistry = presence_registry
    del base


def composite_references() -> None:
    # a reference to a type keyed by two properties holds its key tuple
    key = SeatKey(room="hall-b", number=12)
    assert_type(key.room, str)
    assert_type(key.number, int)
    seat = Seat(room="hall-b", number=12, x=1.0, y=2.0)
    assert_type(seat.number, int)
    position = Position(participant=uuid.uuid4(), room="hall-b", x=0, y=0, seat=key)
    assert_type(position.seat, SeatKey | None)
    room, number = key  # a tuple: the key the seats' store uses
    assert_type((room, number), tuple[str, int])


def rejected_calls() -> None:
    who = uuid.uuid4()
    # a key part of the wrong type, and a bare tuple for the key class
    SeatKey(room="hall-b", number="12")  # type: ignore[arg-type]
    Position(participant=who, room="r", x=0, y=0, seat=("r", 1))  # type: ignore[arg-type]
    Cursor(participant=who, board="map")  # type: ignore[call-arg]
    Cursor(who, "map", side=Side.RED)  # type: ignore[call-arg]
    Cursor(participant=who, board=3, side=Side.RED)  # type: ignore[arg-type]


class _MakesTeam(Protocol):
    def __call__(
        self,
        *,
        id: uuid.UUID = ...,
        name: str,
        side: Side,
        motto: str | None = ...,
        score: decimal.Decimal = ...,
    ) -> Team: ...


class _MakesVirtualMachine(Protocol):
    def __call__(
        self,
        *,
        hostname: str,
        address: str,
        team: uuid.UUID,
        side: Side,
        hypervisor: str,
        open_ports: list[int] = ...,
        services: dict[str, str] = ...,
        snapshot_taken_at: datetime.datetime | None = ...,
    ) -> VirtualMachine: ...


def sql_constructors() -> None:
    # The typed keyword-only __init__ of the SQL models: its signature, inherited
    # columns included, and what it gives.
    make_team: _MakesTeam = Team
    make_vm: _MakesVirtualMachine = VirtualMachine
    team = make_team(name="blue", side=Side.BLUE)
    assert_type(team, Team)
    vm = make_vm(
        hostname="h", address="10.0.0.1", team=team.id, side=Side.BLUE, hypervisor="x"
    )
    assert_type(vm, VirtualMachine)
    request = HelpRequest(
        participant=uuid.uuid4(), side=Side.RED, body="help", labels=["a"]
    )
    assert_type(request.labels, list[str])


def navigation(person: Participant, team: Team, handoff: Handoff) -> None:
    # Typed navigation beside each key; back-references are lists.
    assert_type(person.team_ref, Team)
    assert_type(person.team, uuid.UUID)
    assert_type(team.participants, list[Participant])
    assert_type(handoff.machine_ref, Machine)
    assert_type(handoff.giver, Participant | None)
    assert_type(person.handoffs_taken, list[Handoff])
    assert_type(person.help_requests, list[HelpRequest])
    assert_type(person.machines, list[Machine])
    assert_type(handoff.machine_ref.assignees, list[Participant])
    assert_type(Participant(team_ref=team, side=Side.RED, callsign="al"), Participant)
    person.team_ref = team  # the object where the key is expected: through navigation


def composite_sql_references(person: Participant, desk: Workstation) -> None:
    # A reference to a type keyed by two properties: the key tuple over two part
    # columns, with navigation beside it.
    assert_type(person.workstation, WorkstationKey | None)
    assert_type(person.workstation_room, str | None)
    assert_type(person.workstation_desk, int | None)
    assert_type(person.workstation_ref, Workstation | None)
    assert_type(desk.occupants, list[Participant])
    key = WorkstationKey(room="lab-2", desk=4)
    assert_type(key.desk, int)
    person.workstation = key
    person.workstation_ref = desk
    made = Participant(team=uuid.uuid4(), side=Side.RED, callsign="al", workstation=key)
    assert_type(made, Participant)
    assert_type(
        Participant(
            team=uuid.uuid4(), side=Side.RED, callsign="al", workstation_ref=desk
        ),
        Participant,
    )


def rejected_sql_calls(team: Team) -> None:
    Team(name="x")  # type: ignore[call-arg]
    Team(name="x", side=Side.RED, nonexistent=1)  # type: ignore[call-arg]
    Team(name=5, side=Side.RED)  # type: ignore[arg-type]
    Team("x", Side.RED)  # type: ignore[call-arg, arg-type]
    Participant(team=team, side=Side.RED, callsign="al")  # type: ignore[arg-type]
    Participant(  # a bare tuple, or a part of the wrong type, for the key
        team=team.id,
        side=Side.RED,
        callsign="al",
        workstation=("lab-2", 4),  # type: ignore[arg-type]
    )
    WorkstationKey(room="lab-2", desk="4")  # type: ignore[arg-type]
    person = Participant(team=team.id, side=Side.RED, callsign="al")
    person.team = team  # type: ignore[assignment]
