"""Calls of the generated SQL constructors that mypy --strict must refuse.

Checked by ``test_gen_typing.test_wrong_constructor_calls_fail_mypy``: every line marked
``# error: <code>`` must give exactly that mypy error, and no other line any.  Never
imported or executed (the calls would fail at flush time, which is the point: mypy
catches them first).
"""

from __future__ import annotations

import uuid

from exercise_sync import HelpRequest, Machine, Participant, Side, Team


def wrong(team: Team) -> None:
    Team(nonexistent=1, name="x", side=Side.RED)  # error: call-arg
    Team(name=5, side=Side.RED)  # error: arg-type
    Team(name="x")  # error: call-arg
    Team(name="x", side=Side.RED, score=1.5)  # error: arg-type
    Participant(team="not-a-uuid", side=Side.BLUE, callsign="al")  # error: arg-type
    Participant(team=team, side=Side.BLUE, callsign="al")  # error: arg-type
    HelpRequest(participant=uuid.uuid4(), side=Side.RED, body=5)  # error: arg-type
    HelpRequest(
        participant=uuid.uuid4(),
        side=Side.RED,
        body="b",
        labels=[1],  # error: list-item
    )
    Machine(
        hostname="h",
        address="10.0.0.1",
        team=team.id,
        side=Side.RED,
        services={"ssh": 9.6},  # error: dict-item
    )
    person = Participant(team=team.id, side=Side.BLUE, callsign="al")
    person.team = team  # error: assignment
