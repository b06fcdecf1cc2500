"""Transitions of SQL rows (§15) over real TLS, on SQLite files and PostgreSQL.

An owner ``o`` serves two replicas ``c`` and ``d`` (each its own database).  Covered: a
transition shown provisionally at every node while no database moves, then accepted by
the initiator's final ``forward``; a final forward the owner refuses; a transition broken
by another replica's change, by a local commit at the owner (of another instance of the
row), and an owner's own transition broken the same way; an owner's own transition
released by its neighbours when it commits the row; ``DirtyTransitionError``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sql_helpers import CountingRegistry, SqlNode, connected, run, shutdown, wait_until
from sqlalchemy import Float, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from entanglement.interface import SyncUnauthorized
from entanglement.operations import transition_operation
from entanglement.sql import GUID, SqlSynchronizable, SyncOwner
from entanglement.sql.send.transition import (
    DirtyTransitionError,
    SqlTransitionTrackerMixin,
)
from entanglement.transition import BrokenTransition


class BoardRegistry(CountingRegistry):
    """Takes transitions; records what it shows; the owner keeps markers at x >= 0."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.register_operation("transition", transition_operation)
        self.shown: list[tuple[uuid.UUID, float]] = []

    def incoming_transition(self, obj: Any, **info: Any) -> None:
        self.shown.append((obj.id, obj.x))

    def incoming_forward(self, obj: Any, context: Any, **info: Any) -> None:
        if obj.sync_is_local and obj.x < 0:
            raise SyncUnauthorized("markers stay on the map (x >= 0)")
        super().incoming_forward(obj, context, **info)


class Base(SqlSynchronizable, DeclarativeBase):
    sync_registry = BoardRegistry()


class Marker(SqlTransitionTrackerMixin, Base):
    __tablename__ = "marker"
    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    label: Mapped[str] = mapped_column(String(40))
    x: Mapped[float] = mapped_column(Float, default=0.0)


@dataclass
class BoardNode(SqlNode):
    models: tuple[type[Any], ...] = (Marker,)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.registry = BoardRegistry(bind=self.engine)
        self.registry.register_syncable("Marker", Marker)

    @property
    def board(self) -> BoardRegistry:
        assert isinstance(self.registry, BoardRegistry)
        return self.registry

    def x(self, marker_id: uuid.UUID) -> float | None:
        """The stored x of the marker (None when this database has no such row)."""
        with self.plain() as session:
            row = session.get(Marker, marker_id)
            return None if row is None else row.x

    def tracked(self) -> dict[Any, Any]:
        return Marker.transition_tracked_objects(self.manager)


async def board(pki: dict[str, Any], db_factory: Any) -> tuple[BoardNode, ...]:
    """o serving c and d, a marker of o's at x = 0 stored everywhere."""
    nodes = [
        await BoardNode(name, db_factory(name), pki[key]).start()
        for name, key in (("o", "a"), ("c", "b"), ("d", "c"))
    ]
    o, c, d = nodes
    await connected(c, o)
    await connected(d, o)
    return o, c, d


def new_marker(owner: BoardNode, label: str = "flag") -> uuid.UUID:
    with owner.session() as session:
        marker = Marker(label=label, x=0.0)
        session.add(marker)
        session.commit()
        return marker.id


async def shared_marker(o: BoardNode, *replicas: BoardNode) -> uuid.UUID:
    marker_id = new_marker(o)
    for node in replicas:
        await wait_until(lambda node=node: node.x(marker_id) == 0.0)
    return marker_id


def start_transition(node: BoardNode, marker_id: uuid.UUID, x: float) -> Any:
    """Load the row in a managed session, move it and start a transition."""
    with node.session() as session:
        row = session.get(Marker, marker_id)
        assert row is not None
        row.x = x
        future = row.perform_transition(node.manager)
        assert row not in session  # entering the transition detached it
    return row, future


def test_transition_shown_then_accepted(pki, db_factory) -> None:
    async def scenario() -> None:
        o, c, d = await board(pki, db_factory)
        try:
            marker_id = await shared_marker(o, c, d)
            row, future = start_transition(c, marker_id, 5.0)
            for node in (o, d):  # the owner and the other replica show the move
                await wait_until(lambda n=node: (marker_id, 5.0) in n.board.shown)
            row.x = 7.0
            assert row.perform_transition(c.manager) is future
            await wait_until(lambda: (marker_id, 7.0) in d.board.shown)
            # provisional only: no database moved, the row stays detached
            assert o.x(marker_id) == c.x(marker_id) == d.x(marker_id) == 0.0
            assert Marker.get_from_transition(marker_id, manager=o.manager) is not None
            row.x = 9.0
            final = c.manager.synchronize(row, operation="forward", response=True)
            accepted = await future
            assert isinstance(accepted, Marker)
            assert accepted.x == 9.0
            assert (await final).x == 9.0
            assert o.x(marker_id) == 9.0
            await wait_until(lambda: c.x(marker_id) == d.x(marker_id) == 9.0)
            await wait_until(lambda: not (o.tracked() or c.tracked() or d.tracked()))
            assert "transition_id" not in vars(row)
        finally:
            await shutdown(c, d, o)  # clients first: none reconnects to a stopped owner

    run(scenario())


def test_final_forward_refused(pki, db_factory) -> None:
    async def scenario() -> None:
        o, c, d = await board(pki, db_factory)
        try:
            marker_id = await shared_marker(o, c, d)
            row, future = start_transition(c, marker_id, 2.0)
            await wait_until(lambda: (marker_id, 2.0) in o.board.shown)
            row.x = -3.0  # off the map: the owner refuses the final state
            final = c.manager.synchronize(row, operation="forward", response=True)
            with pytest.raises(SyncUnauthorized, match="stay on the map"):
                await final
            with pytest.raises(SyncUnauthorized):
                await future
            assert o.x(marker_id) == c.x(marker_id) == 0.0
            await wait_until(lambda: not (o.tracked() or c.tracked()))
        finally:
            await shutdown(c, d, o)  # clients first: none reconnects to a stopped owner

    run(scenario())


def test_broken_by_another_replicas_change(pki, db_factory) -> None:
    async def scenario() -> None:
        o, c, d = await board(pki, db_factory)
        try:
            marker_id = await shared_marker(o, c, d)
            _row, future = start_transition(c, marker_id, 4.0)
            await wait_until(lambda: (marker_id, 4.0) in o.board.shown)
            with d.session() as session:  # an ordinary change, through sync_commit
                theirs = session.get(Marker, marker_id)
                assert theirs is not None
                theirs.x = 8.0
                session.sync_commit()
                session.commit()
                await theirs.sync_future
            with pytest.raises(BrokenTransition, match="Marker") as broken:
                await future
            assert broken.value.transition_id is not None
            assert o.x(marker_id) == 8.0
            await wait_until(lambda: c.x(marker_id) == 8.0)
            assert not o.tracked()
        finally:
            await shutdown(c, d, o)  # clients first: none reconnects to a stopped owner

    run(scenario())


def test_broken_by_a_local_commit_at_the_owner(pki, db_factory) -> None:
    async def scenario() -> None:
        o, c, d = await board(pki, db_factory)
        try:
            marker_id = await shared_marker(o, c, d)
            _row, future = start_transition(c, marker_id, 4.0)
            await wait_until(lambda: (marker_id, 4.0) in o.board.shown)
            with o.session() as session:  # another instance of the row, committed
                mine = session.get(Marker, marker_id)
                assert mine is not None
                mine.label = "renamed by the owner"
                session.commit()
            with pytest.raises(BrokenTransition):
                await future
            assert not o.tracked()
            await wait_until(lambda: not c.tracked())
            assert o.x(marker_id) == c.x(marker_id) == 0.0
        finally:
            await shutdown(c, d, o)  # clients first: none reconnects to a stopped owner

    run(scenario())


def test_owner_transition_released_then_one_broken(pki, db_factory) -> None:
    async def scenario() -> None:
        o, c, d = await board(pki, db_factory)
        try:
            marker_id = await shared_marker(o, c, d)
            row, future = start_transition(o, marker_id, 4.0)
            for node in (c, d):
                await wait_until(lambda n=node: (marker_id, 4.0) in n.board.shown)
                assert node.x(marker_id) == 0.0
            assert not future.done()  # each neighbour holds the request
            row.x = 6.0
            with o.session() as session:  # the owner's final sync: commit the row
                # (into a session that holds the owner already: the row takes it)
                held = session.get(SyncOwner, o.local_owner().id)
                session.add(row)
                assert row.sync_owner is held
                session.commit()
            assert await future is None  # released without an answer
            assert not o.tracked()
            for node in (c, d):
                await wait_until(lambda n=node: n.x(marker_id) == 6.0)
                await wait_until(lambda n=node: not n.tracked())
            # a second transition of the owner's, overtaken by another local commit
            _row, second = start_transition(o, marker_id, 1.0)
            await wait_until(lambda: (marker_id, 1.0) in c.board.shown)
            with o.session() as session:
                other = session.get(Marker, marker_id)
                assert other is not None
                other.label = "moved meanwhile"
                session.commit()
            with pytest.raises(BrokenTransition):
                await second
            assert o.x(marker_id) == 6.0
        finally:
            await shutdown(c, d, o)  # clients first: none reconnects to a stopped owner

    run(scenario())


def test_dirty_transition_error(pki, db_factory) -> None:
    async def scenario() -> None:
        o, c, d = await board(pki, db_factory)
        try:
            marker_id = await shared_marker(o, c, d)
            with o.session() as session:
                row = session.get(Marker, marker_id)
                assert row is not None
                row.x = 1.0
                session.flush()  # flushed, not committed
                with pytest.raises(DirtyTransitionError, match="flushed changes"):
                    row.perform_transition(o.manager)
                assert row in session
                assert "transition_id" not in vars(row)
                fresh = Marker(label="unsaved")
                session.add(fresh)
                with pytest.raises(DirtyTransitionError, match="not stored it yet"):
                    fresh.perform_transition(o.manager)
                session.commit()
            # the commit's sync reaches c after anything sent before it: nothing was
            await wait_until(lambda: c.x(marker_id) == 1.0)
            assert c.board.shown == []
            assert not o.tracked()
        finally:
            await shutdown(c, d, o)  # clients first: none reconnects to a stopped owner

    run(scenario())
