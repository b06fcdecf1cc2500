"""Offline, then reconnect: both nodes end with exactly the same rows (the demo's case).

The models are the shapes of ``schemas/exercise.yaml`` that the Team/Player models of
the other tests lack: joined-table inheritance whose child primary key is a foreign key
to the parent's (one property, two columns), a polymorphic discriminator kept local,
enum columns stored by value with the codecs of :mod:`entanglement.generated_support`, a composite
primary key, and client-side defaults (a random UUID key, a default enum member).

Rows are compared whole: primary keys, every synchronised column, the owner and the
serial, and the concrete class.  A receiving side that loses a primary key to a column
default stores a row that looks right by its other columns but is another row (a
regression test for the reverted batched fast path, which did that for joined
inheritance and broke ``entanglegen demo``'s reconnect).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sql_helpers import CountingRegistry, SqlNode, run, shutdown, wait_until
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, with_polymorphic

from entanglement import generated_support as support
from entanglement.interface import no_sync_property, sync_property
from entanglement.sql import GUID, SqlSynchronizable, SyncDeleted, SyncOwner


class Side(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Status(enum.Enum):
    OPEN = "open"
    CLAIMED = "claimed"
    RESOLVED = "resolved"


def _enum(cls: type[enum.Enum], **kwargs: Any) -> Any:
    return sync_property(
        mapped_column(
            sa.Enum(cls, native_enum=False, values_callable=support.enum_values),
            **kwargs,
        ),
        encoder=support.enum_encoder,
        decoder=support.enum_decoder(cls),
    )


class ExBase(SqlSynchronizable, DeclarativeBase):
    sync_registry = CountingRegistry()


class Squad(ExBase):
    __tablename__ = "ex_squad"
    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(64))
    side: Mapped[Side] = _enum(Side, nullable=False)


class Machine(ExBase):
    __tablename__ = "ex_machine"
    __mapper_args__ = {  # noqa: RUF012
        "polymorphic_identity": "Machine",
        "polymorphic_on": "kind",
    }
    kind: Mapped[str] = no_sync_property(mapped_column(String(32), nullable=False))
    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    hostname: Mapped[str] = mapped_column(String(253))
    squad: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("ex_squad.id"))
    side: Mapped[Side] = _enum(Side, nullable=False)
    compromised: Mapped[bool] = mapped_column(default=False)


class VirtualMachine(Machine):
    __tablename__ = "ex_vm"
    __mapper_args__ = {"polymorphic_identity": "VirtualMachine"}  # noqa: RUF012
    id: Mapped[uuid.UUID] = mapped_column(
        GUID, ForeignKey("ex_machine.id"), primary_key=True
    )
    hypervisor: Mapped[str] = mapped_column(String(253))
    snapshot_at: Mapped[dt.datetime | None] = mapped_column(
        sa.DateTime(timezone=True), nullable=True
    )


class Handoff(ExBase):
    __tablename__ = "ex_handoff"
    machine: Mapped[uuid.UUID] = mapped_column(
        GUID, ForeignKey("ex_machine.id"), primary_key=True
    )
    sequence: Mapped[int] = mapped_column(primary_key=True)
    side: Mapped[Side] = _enum(Side, nullable=False)
    note: Mapped[str] = mapped_column(default="")


class Ticket(ExBase):
    __tablename__ = "ex_ticket"
    sync_priority = 200
    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    machine: Mapped[uuid.UUID | None] = mapped_column(
        GUID, ForeignKey("ex_machine.id"), nullable=True
    )
    status: Mapped[Status] = _enum(Status, nullable=False, default=Status.OPEN)
    body: Mapped[str] = mapped_column(String(200))


EXERCISE: tuple[type[Any], ...] = (Squad, Machine, VirtualMachine, Handoff, Ticket)


def snapshot(node: SqlNode) -> set[tuple[Any, ...]]:
    """Every row of the node as (class, sorted column items), keys and owner included."""
    rows: set[tuple[Any, ...]] = set()
    with node.plain() as session:
        for root in (Squad, with_polymorphic(Machine, "*"), Handoff, Ticket):
            for row in session.scalars(sa.select(root)):
                mapper = sa.inspect(type(row))
                values = tuple(
                    sorted(
                        (prop.key, _comparable(getattr(row, prop.key)))
                        for prop in mapper.column_attrs
                    )
                )
                rows.add((type(row).__name__, values))
    return rows


def _comparable(value: Any) -> Any:
    # SQLite returns naive datetimes for timezone-aware columns
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def everything_recorded(node: SqlNode, other: SqlNode) -> bool:
    """``node`` recorded (YouHave) the top serial of ``other``'s local owner, if any.

    The top is that of its rows and tombstones (a serial allocated for no row is
    never announced).
    """
    with other.plain() as session:
        owner_id = session.scalar(
            sa.select(SyncOwner.id).where(SyncOwner.dest_hash.is_(None))
        )
        if owner_id is None:  # nothing committed there yet
            return True
        top = max(
            session.scalar(
                sa.select(sa.func.max(table.sync_serial)).where(
                    table.sync_owner_id == owner_id
                )
            )
            or 0
            for table in (Squad, Machine, Handoff, Ticket, SyncDeleted)
        )
    with node.plain() as session:
        seen = session.scalar(
            sa.select(SyncOwner.incoming_serial).where(SyncOwner.id == owner_id)
        )
    return seen is not None and seen >= top


async def converged(a: SqlNode, b: SqlNode, limit: float = 15.0) -> None:
    """Wait until each node recorded the other's serials and the rows agree.

    Past ``limit`` the comparison is asserted, so a failure shows the differing rows.
    """
    try:
        async with asyncio.timeout(limit):
            await wait_until(
                lambda: everything_recorded(a, b)
                and everything_recorded(b, a)
                and snapshot(a) == snapshot(b)
            )
    except TimeoutError:
        pass
    only_a, only_b = snapshot(a) - snapshot(b), snapshot(b) - snapshot(a)
    assert (only_a, only_b) == (set(), set())
    assert everything_recorded(a, b)
    assert everything_recorded(b, a)


def _node(name: str, pki: dict[str, Any], db_factory: Callable[[str], str]) -> SqlNode:
    return SqlNode(name, db_factory(name), pki[name], models=EXERCISE)


def seed(staff: SqlNode) -> dict[str, uuid.UUID]:
    with staff.session() as s:
        blue = Squad(name="blue squad", side=Side.BLUE)
        red = Squad(name="red squad", side=Side.RED)
        s.add_all([blue, red])
        s.flush()
        web = VirtualMachine(
            hostname="web01", squad=blue.id, side=Side.BLUE, hypervisor="hv1"
        )
        old = VirtualMachine(
            hostname="old01",
            squad=blue.id,
            side=Side.BLUE,
            hypervisor="hv2",
            snapshot_at=dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC),
        )
        c2 = Machine(hostname="c2", squad=red.id, side=Side.RED)
        spare = Machine(hostname="spare", squad=blue.id, side=Side.BLUE)
        s.add_all([web, old, c2, spare])
        s.flush()
        s.add(Handoff(machine=web.id, sequence=1, side=Side.BLUE, note="first"))
        s.commit()
        return {
            "blue": blue.id,
            "web": web.id,
            "old": old.id,
            "c2": c2.id,
            "spare": spare.id,
        }


def change_staff_side(staff: SqlNode, ids: dict[str, uuid.UUID]) -> None:
    """Inserts, updates (parent and child columns) and deletes while the peer is away."""
    with staff.session() as s:
        s.add(
            VirtualMachine(
                hostname="web02", squad=ids["blue"], side=Side.BLUE, hypervisor="hv3"
            )
        )
        s.add(Machine(hostname="db01", squad=ids["blue"], side=Side.BLUE))
        s.add(Handoff(machine=ids["web"], sequence=2, side=Side.BLUE))
        web = s.get(VirtualMachine, ids["web"])
        assert web is not None
        web.compromised = True
        web.hypervisor = "hv9"
        c2 = s.get(Machine, ids["c2"])
        assert c2 is not None
        c2.side = Side.BLUE
        s.delete(s.get(Machine, ids["old"]))
        s.delete(s.get(Machine, ids["spare"]))
        s.commit()


def change_peer_side_offline(peer: SqlNode) -> None:
    """The offline peer's own tickets: an update, an insert and a delete."""
    with peer.session() as s:  # no manager: stored now, sent on reconnect
        tickets = {t.body: t for t in s.scalars(sa.select(Ticket))}
        tickets["web01 is slow"].status = Status.RESOLVED
        s.delete(tickets["forget this"])
        s.add(Ticket(body="need VPN creds"))
        s.commit()


def test_offline_changes_converge_exactly_both_ways(pki, db_factory) -> None:
    async def scenario() -> None:
        staff = await _node("a", pki, db_factory).start()
        peer = await _node("b", pki, db_factory).start()
        try:
            ids = seed(staff)
            peer.add_destination(staff, connect=True)
            staff.add_destination(peer, connect=False)
            await converged(staff, peer)  # the first catch-up: a fresh peer

            with peer.session() as s:
                s.add(Ticket(machine=ids["web"], body="web01 is slow"))
                s.add(Ticket(body="forget this", status=Status.CLAIMED))
                s.commit()
            await converged(staff, peer)

            await peer.stop()
            change_staff_side(staff, ids)
            change_peer_side_offline(peer)
            await peer.start()
            await converged(staff, peer)

            kinds = {
                (name, dict(values)["hostname"])
                for name, values in snapshot(peer)
                if "hostname" in dict(values)
            }
            assert kinds == {
                ("VirtualMachine", "web01"),
                ("VirtualMachine", "web02"),
                ("Machine", "c2"),
                ("Machine", "db01"),
            }
            web = dict(next(v for n, v in snapshot(peer) if ("id", ids["web"]) in v))
            assert (web["compromised"], web["hypervisor"]) == (True, "hv9")
            bodies = {
                dict(v)["body"]: dict(v)["status"]
                for n, v in snapshot(staff)
                if n == "Ticket"
            }
            assert bodies == {
                "web01 is slow": Status.RESOLVED,
                "need VPN creds": Status.OPEN,
            }
        finally:
            await shutdown(staff, peer)

    run(scenario(), timeout=60)
