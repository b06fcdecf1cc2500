"""Transitions of a generated SQL type (``transitions: true`` on exercise ``Machine``).

Over real TLS, on SQLite files and PostgreSQL: node ``staff-a`` owns the range, node
``blue-b`` plays blue.  Blue drags a virtual machine (a joined-table subtype of
``Machine``, which carries the mixin) to its other team: the owner holds the
provisional row apart from its database until blue drops it with a ``forward``; a
second drag is broken by staff's own commit of the machine.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sql_helpers import run, wait_until

from entanglement.network import SyncServer
from entanglement.sql import (
    SqlSyncDestination,
    SqlSyncRegistry,
    sync_manager_destinations,
)
from entanglement.sql.send.transition import SqlTransitionTrackerMixin
from entanglement.transition import BrokenTransition

# the committed generated packages import as users import them (as tests/generator does)
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "generated"))
from exercise_sync import (
    Base,
    Machine,
    Side,
    Team,
    VirtualMachine,
    new_registry,
)


class RangeNode:
    def __init__(self, name: str, url: str, pki_node: Any) -> None:
        self.name, self.pki_node = name, pki_node
        self.engine = sa.create_engine(url)
        SqlSyncRegistry.create_bookkeeping(self.engine)
        Base.metadata.create_all(self.engine)
        self.registry = new_registry(bind=self.engine)
        self.manager: Any = None
        self.port = 0

    async def start(self) -> RangeNode:
        node = self.pki_node
        self.manager = SyncServer(
            node.cert, 0, key=node.key, cafile=node.cafile, registries=[self.registry]
        )
        listener = await self.manager.listen_ssl(0, "127.0.0.1")
        self.port = int(listener.sockets[0].getsockname()[1])
        sync_manager_destinations(self.manager)
        return self

    async def stop(self) -> None:
        await self.manager.aclose()
        self.manager.session.close()
        self.engine.dispose()

    def know(self, other: RangeNode, *, connect: bool) -> None:
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

    def team_of(self, machine_id: Any) -> Any:
        with sa.orm.Session(self.engine) as session:
            return session.scalar(
                sa.select(Machine.team).where(Machine.id == machine_id)
            )


def test_generated_machine_dragged_between_teams(pki, db_factory) -> None:
    async def scenario() -> None:
        staff = await RangeNode("staff-a", db_factory("a"), pki["a"]).start()
        blue = await RangeNode("blue-b", db_factory("b"), pki["b"]).start()
        try:
            assert issubclass(VirtualMachine, SqlTransitionTrackerMixin)
            assert "transition" in blue.registry.operations
            with staff.session() as session:
                first = Team(name="blue one", side=Side.BLUE)
                second = Team(name="blue two", side=Side.BLUE)
                session.add_all([first, second])
                session.flush()
                vm = VirtualMachine(
                    hostname="web01",
                    address="10.0.0.5",
                    team=first.id,
                    side=Side.BLUE,
                    hypervisor="hv1",
                )
                session.add(vm)
                session.commit()
                ids = (first.id, second.id, vm.id)
            one, two, vm_id = ids
            staff.know(blue, connect=False)
            blue.know(staff, connect=True)
            await wait_until(lambda: blue.team_of(vm_id) == one)

            with blue.session() as session:
                row = session.get(Machine, vm_id)
                assert type(row) is VirtualMachine
                row.team = two
                future = row.perform_transition(blue.manager)
            assert set(row.transition_modified_attrs()) == {"team", "transition_id"}

            def held() -> Any:
                return VirtualMachine.get_from_transition(vm_id, manager=staff.manager)

            await wait_until(lambda: held() is not None)
            assert held().team == two
            assert held().hypervisor == "hv1"
            assert staff.team_of(vm_id) == one  # provisional only
            final = blue.manager.synchronize(row, operation="forward", response=True)
            dropped = await future
            assert dropped.team == two
            assert (await final).team == two
            assert staff.team_of(vm_id) == two
            await wait_until(lambda: blue.team_of(vm_id) == two)

            # a second drag, overtaken by staff committing the machine meanwhile
            with blue.session() as session:
                again = session.get(Machine, vm_id)
                assert again is not None
                again.team = one
                second_drag = again.perform_transition(blue.manager)
            await wait_until(lambda: held() is not None)
            with staff.session() as session:
                machine = session.get(Machine, vm_id)
                assert machine is not None
                machine.compromised = True
                session.commit()
            with pytest.raises(BrokenTransition, match="VirtualMachine"):
                await second_drag
            assert staff.team_of(vm_id) == two
        finally:
            await blue.stop()
            await staff.stop()

    run(scenario())
