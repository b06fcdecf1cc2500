"""Transitions of SQL rows through a gateway (§15), over real TLS, SQLite and PostgreSQL.

Three nodes in a line, C → G → O (each arrow an outgoing connection), O owning the
marker.  C's transition is shown at G on its way to O while neither database moves;
C's final ``forward`` ends it at G and at O and both futures resolve with the owner's
row.  A transition overtaken by a local commit at the owner, and one overtaken by the
gateway's own change of the row, fail at C with ``BrokenTransition``.
"""

from __future__ import annotations

from typing import Any

import pytest
from sql_helpers import connected, run, shutdown, wait_until
from test_sql_transition import BoardNode, Marker, shared_marker, start_transition

from entanglement.transition import BrokenTransition


async def line(pki: dict[str, Any], db_factory: Any) -> tuple[BoardNode, ...]:
    """C → G → O started and connected."""
    nodes = [
        await BoardNode(name, db_factory(name), pki[key]).start()
        for name, key in (("o", "a"), ("g", "b"), ("c", "c"))
    ]
    o, g, c = nodes
    await connected(g, o)
    await connected(c, g)
    return o, g, c


def test_gateway_shows_relays_and_ends_a_transition(pki, db_factory) -> None:
    async def scenario() -> None:
        o, g, c = await line(pki, db_factory)
        try:
            marker_id = await shared_marker(o, g, c)
            row, future = start_transition(c, marker_id, 3.0)
            for node in (g, o):  # shown at the gateway on its way to the owner
                await wait_until(lambda n=node: (marker_id, 3.0) in n.board.shown)
            row.x = 4.0
            row.perform_transition(c.manager)
            await wait_until(lambda: (marker_id, 4.0) in o.board.shown)
            assert o.x(marker_id) == g.x(marker_id) == c.x(marker_id) == 0.0
            row.x = 5.0
            final = c.manager.synchronize(row, operation="forward", response=True)
            accepted = await future
            assert accepted.x == 5.0
            assert (await final).x == 5.0
            assert o.x(marker_id) == 5.0
            await wait_until(lambda: g.x(marker_id) == c.x(marker_id) == 5.0)
            for node in (o, g, c):
                await wait_until(lambda n=node: not n.tracked())
        finally:
            await shutdown(c, g, o)

    run(scenario())


def test_owners_local_commit_breaks_it_through_the_gateway(pki, db_factory) -> None:
    async def scenario() -> None:
        o, g, c = await line(pki, db_factory)
        try:
            marker_id = await shared_marker(o, g, c)
            _row, future = start_transition(c, marker_id, 3.0)
            await wait_until(lambda: (marker_id, 3.0) in o.board.shown)
            with o.session() as session:
                mine = session.get(Marker, marker_id)
                assert mine is not None
                mine.x = 11.0
                session.commit()
            with pytest.raises(BrokenTransition, match="Marker"):
                await future
            await wait_until(lambda: g.x(marker_id) == c.x(marker_id) == 11.0)
            for node in (o, g, c):
                await wait_until(lambda n=node: not n.tracked())
        finally:
            await shutdown(c, g, o)

    run(scenario())


def test_gateways_own_change_breaks_it(pki, db_factory) -> None:
    async def scenario() -> None:
        o, g, c = await line(pki, db_factory)
        try:
            marker_id = await shared_marker(o, g, c)
            _row, future = start_transition(c, marker_id, 3.0)
            await wait_until(lambda: (marker_id, 3.0) in o.board.shown)
            with g.session() as session:  # G's application proposes another move
                theirs = session.get(Marker, marker_id)
                assert theirs is not None
                theirs.x = 7.0
                session.sync_commit()
                session.commit()
                assert (await theirs.sync_future).x == 7.0
            with pytest.raises(BrokenTransition):
                await future
            assert o.x(marker_id) == 7.0
            await wait_until(lambda: c.x(marker_id) == 7.0)
        finally:
            await shutdown(c, g, o)

    run(scenario())
