"""A received row the database refuses is set apart; the rest of its batch is stored.

Issue 13: a row violating a unique constraint used to fail its whole batch (rolled back,
asked for again on the next connection, and refused again, forever).  Now the batch
finds the refused rows (halves of the failing part, down to single rows), logs each
with the peer, its type and its key, holds its owner's serial from that neighbour (the
row is asked for again on the next connection, see ``entanglement.sql.holds``), and
stores every other row.  The session goes on storing what comes next.

Two real nodes over TLS, on SQLite files and PostgreSQL.
"""

from __future__ import annotations

import logging
import uuid

import pytest
import sqlalchemy as sa
from sql_helpers import (
    SqlNode,
    Team,
    add_teams,
    caught_up,
    connected,
    owner_learned_from,
    run,
    shutdown,
    wait_until,
)


def _team_id(node: SqlNode, name: str) -> str:
    with node.plain() as session:
        return str(session.scalars(sa.select(Team.id).where(Team.name == name)).one())


def _serial(node: SqlNode, key: str) -> int:
    with node.plain() as session:
        team = session.get(Team, uuid.UUID(key))
        assert team is not None
        return int(team.sync_serial)


def test_a_refused_row_is_set_apart_and_its_neighbours_stored(
    pki, db_factory, caplog: pytest.LogCaptureFixture
) -> None:
    names = [f"team {i:02}" for i in range(40)]

    async def scenario() -> None:
        a = await SqlNode("a", db_factory("a"), pki["a"]).start()
        b = await SqlNode("b", db_factory("b"), pki["b"]).start()
        try:
            add_teams(b, "team 17", "team 30")  # b's own rows take two of a's names
            add_teams(a, *names)
            refused = {_team_id(a, "team 17"), _team_id(a, "team 30")}
            await connected(b, a)
            await wait_until(lambda: len(b.teams()) == 40)  # 38 of a's, b's two
            await wait_until(lambda: "were refused" in caplog.text)
            # (a refuses b's two rows the same way: the names clash both ways)
            errors = [
                r.getMessage()
                for r in caplog.records
                if r.levelno >= logging.ERROR
                and "could not store" in r.getMessage()
                and "from 'a'" in r.getMessage()
            ]
            assert len(errors) == 2, errors
            for key in refused:  # each refused row named with its peer and type
                (line,) = [e for e in errors if key in e]
                assert line.startswith("could not store Team ")
                assert str(a.hash) in line
            # the serial is held below the first refused row: it is asked again
            first = min(_serial(a, key) for key in refused)
            assert owner_learned_from(b, a).incoming_serial == first - 1
            # the receive session is not broken: the next flood is stored
            add_teams(a, "later")
            await wait_until(lambda: "later" in b.teams())
            with b.plain() as session:  # b frees the names; a reconnection brings them
                session.execute(
                    sa.update(Team)
                    .where(Team.sync_owner_id == b.local_owner().id)
                    .values(name=Team.name + " (b)")
                )
                session.commit()
            await b.stop()
            await b.start()
            await wait_until(lambda: set(names) <= set(b.teams()) and caught_up(b, a))
        finally:
            await shutdown(a, b)

    with caplog.at_level(logging.INFO, logger="entanglement"):
        run(scenario(), timeout=20.0)


def test_a_refused_row_in_a_live_flood_spares_the_rest(
    pki, db_factory, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        a = await SqlNode("a", db_factory("a"), pki["a"]).start()
        b = await SqlNode("b", db_factory("b"), pki["b"]).start()
        try:
            await connected(b, a)
            add_teams(b, "clash")
            # one commit, one burst at b: the clashing row sits among good ones
            add_teams(a, "one", "clash", "two", "three")
            await wait_until(lambda: {"one", "two", "three"} <= set(b.teams()))
            await wait_until(lambda: "could not store" in caplog.text)
            key = _team_id(a, "clash")
            assert key in caplog.text
            with b.plain() as session:  # b's own "clash" is untouched
                own = session.scalars(sa.select(Team).where(Team.name == "clash")).one()
                assert own.sync_owner_id is None or str(own.id) != key
            add_teams(a, "after")
            await wait_until(lambda: "after" in b.teams())
        finally:
            await shutdown(a, b)

    with caplog.at_level(logging.INFO, logger="entanglement"):
        run(scenario(), timeout=20.0)
