"""Received floods are stored in batches; other messages still see every earlier row."""

from __future__ import annotations

import logging

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


def test_a_delete_right_after_its_row_sees_the_batched_row(pki, db_factory) -> None:
    async def scenario() -> None:
        a = await SqlNode("a", db_factory("a"), pki["a"]).start()
        b = await SqlNode("b", db_factory("b"), pki["b"]).start()
        try:
            add_teams(a, "base")
            await connected(b, a)
            await wait_until(lambda: "base" in b.teams() and caught_up(b, a))
            to_b = a.manager.dest_by_hash(b.hash).protocol
            for i in range(20):  # sync and delete of each row arrive in one burst
                add_teams(a, f"short-lived {i}")
                await to_b.sync_drain()  # written: the delete cannot replace it
                with a.session() as session:
                    name = f"short-lived {i}"
                    session.delete(
                        session.scalars(sa.select(Team).where(Team.name == name)).one()
                    )
                    session.commit()
            add_teams(a, "last")
            await wait_until(lambda: "last" in b.teams() and caught_up(b, a))
            assert set(b.teams()) == {"base", "last"}
            assert b.registry.count("delete") == 20
        finally:
            await shutdown(a, b)

    run(scenario())


def test_a_batch_the_database_refuses_is_asked_for_again(
    pki, db_factory, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        a = await SqlNode("a", db_factory("a"), pki["a"]).start()
        b = await SqlNode("b", db_factory("b"), pki["b"]).start()
        try:
            add_teams(
                b, "taken"
            )  # team names are unique: a's "taken" is refused, "free" kept
            add_teams(a, "taken", "free")
            await connected(b, a)
            await wait_until(lambda: "could not store" in caplog.text)
            await wait_until(lambda: "were refused; recording serial 0" in caplog.text)
            with b.plain() as session:
                session.execute(
                    sa.update(Team).where(Team.name == "taken").values(name="renamed")
                )
                session.commit()
            assert owner_learned_from(b, a).incoming_serial == 0
            await b.stop()  # the next connection asks for everything again
            await b.start()
            await wait_until(
                lambda: {"taken", "free"} <= set(b.teams()) and caught_up(b, a)
            )
        finally:
            await shutdown(a, b)

    with caplog.at_level(logging.INFO, logger="entanglement"):
        run(scenario())
