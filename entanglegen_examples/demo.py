"""Two exercise nodes on loopback converging to the same state (``entanglegen demo``).

Mints a CA and two node certificates with :mod:`entanglement.pki` and starts two SQL nodes
(SQLite files) of the generated ``exercise_sync`` package on 127.0.0.1: ``staff-hq`` (the
exercise staff) and ``blue-field`` (the blue team's node).  It then changes data on both
sides, including while ``blue-field`` is offline, and prints what each node sees after
every step until both hold the same state.  The policy hooks of schemas/exercise.yaml
(:mod:`entanglegen_examples.hooks`) hold throughout: blue never sees a red object.  Exit
status 0 when the nodes converge, 1 with a message on timeout.

``exercise_sync`` must be importable: ``entanglegen demo`` builds the project's schemas
first and puts the output directory on the import path; this module never imports the
generator.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["main"]

STAFF, BLUE = "staff-hq", "blue-field"


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="entanglegen demo",
        description=(
            "Start two nodes of the example exercise_sync package on 127.0.0.1 over "
            "TLS (staff-hq and blue-field, SQLite databases), change data on both, "
            "take blue-field offline and back, and print what each node holds until "
            "both converge. The exercise policy holds throughout: blue-field never "
            "receives a red object. Exit status 0 when the nodes converge, 1 if they "
            "do not within --timeout."
        ),
    )
    parser.add_argument(
        "--dir",
        type=Path,
        help="keep the certificates and SQLite files here "
        "(default: a temporary directory, removed afterwards)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=40.0,
        help="seconds to wait for convergence (default: 40)",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="show the runtime's log messages"
    )
    return parser.parse_args(argv)


@dataclass
class Node:
    """One exercise node: a SQLite file, a registry over it and a TLS SyncServer."""

    name: str
    directory: Path
    models: ModuleType
    cert: Path = field(init=False)
    key: Path = field(init=False)
    cafile: Path = field(init=False)
    engine: Any = None
    registry: Any = None
    manager: Any = None
    port: int = 0

    def setup(self) -> None:
        import sqlalchemy as sa

        from entanglement.pki import gen_site_ca, host_cert
        from entanglement.sql import SqlSyncRegistry

        self.cafile = gen_site_ca(self.directory / "pki", "entanglegen demo CA")
        self.cert, self.key = host_cert(
            self.directory / "pki", "127.0.0.1", prefix=self.name
        )
        self.engine = sa.create_engine(
            f"sqlite:///{self.directory / f'{self.name}.sqlite'}"
        )
        SqlSyncRegistry.create_bookkeeping(self.engine)
        self.models.Base.metadata.create_all(self.engine)
        self.registry = self.models.new_registry(bind=self.engine)

    async def start(self) -> None:
        from entanglement.network import SyncServer
        from entanglement.sql import sync_manager_destinations

        self.manager = SyncServer(
            self.cert, 0, key=self.key, cafile=self.cafile, registries=[self.registry]
        )
        self.manager.initial_backoff = 0.05
        listener = await self.manager.listen_ssl(self.port, "127.0.0.1")
        self.port = int(listener.sockets[0].getsockname()[1])
        sync_manager_destinations(self.manager)

    async def stop(self) -> None:
        if self.manager is not None:
            self.manager.session.close()
            await self.manager.aclose()
            self.manager = None

    def know(self, other: Node, *, connect: bool) -> None:
        import sqlalchemy as sa

        from entanglement._hashes import certhash_from_file
        from entanglement.sql import SqlSyncDestination, sync_manager_destinations

        host, port = ("127.0.0.1", other.port) if connect else (None, None)
        with sa.orm.Session(self.engine) as session:
            session.add(
                SqlSyncDestination(
                    certhash_from_file(other.cert), other.name, host=host, port=port
                )
            )
            session.commit()
        if self.manager is not None:
            sync_manager_destinations(self.manager)

    def session(self) -> Any:
        """A session that floods commits through the manager (or stores, when offline)."""
        if self.manager is None:
            return self.registry.sessionmaker()
        return self.registry.sessionmaker(manager=self.manager)

    def view(self) -> set[tuple[str, ...]]:
        """What this node holds, as comparable rows (type, identity, state, side)."""
        import sqlalchemy as sa

        m = self.models
        rows: set[tuple[str, ...]] = set()
        with sa.orm.Session(self.engine) as s:
            names = {p.id: p.callsign for p in s.scalars(sa.select(m.Participant))}
            hosts = {x.id: x.hostname for x in s.scalars(sa.select(m.Machine))}
            for t in s.scalars(sa.select(m.Team)):
                rows.add(("team", t.name, t.motto or "", t.side.value))
            for p in s.scalars(sa.select(m.Participant)):
                rows.add(("participant", p.callsign, "", p.side.value))
            for x in s.scalars(sa.select(m.Machine)):
                state = ("compromised" if x.compromised else "clean") + (
                    f" on {x.hypervisor}" if isinstance(x, m.VirtualMachine) else ""
                )
                rows.add(("machine", x.hostname, state, x.side.value))
            for h in s.scalars(sa.select(m.Handoff)):
                move = f"{names.get(h.from_participant, '-')} -> {names.get(h.to_participant)}"
                rows.add(
                    (
                        "handoff",
                        f"{hosts.get(h.machine)}#{h.sequence}",
                        move,
                        h.side.value,
                    )
                )
            for r in s.scalars(sa.select(m.HelpRequest)):
                rows.add(("help", r.body, r.status.value, r.side.value))
        return rows


def _show(nodes: list[Node], title: str, started: float) -> None:
    print(f"\n[{time.monotonic() - started:5.2f}s] {title}")
    for node in nodes:
        rows = sorted(node.view())
        status = "online" if node.manager is not None else "offline"
        print(f"  {node.name} ({status}) holds {len(rows)} objects:")
        for kind, ident, state, side in rows:
            print(f"    {side:<5} {kind:<11} {ident:<22} {state}")


async def _until(predicate: Callable[[], bool]) -> None:
    # The databases signal nothing; the caller's timeout bounds the polling.
    while not predicate():  # noqa: ASYNC110
        await asyncio.sleep(0.02)


def _blue_part(rows: set[tuple[str, ...]]) -> set[tuple[str, ...]]:
    return {r for r in rows if r[3] == "blue"}


class PolicyBroken(Exception):
    """A node holds an object its side may not see."""


@dataclass
class _Demo:
    """The scenario, one method per step; each step ends by printing both views."""

    staff: Node
    blue: Node
    started: float
    ids: dict[str, Any] = field(default_factory=dict)

    def show(self, title: str) -> None:
        _show([self.staff, self.blue], title, self.started)

    def converged(self) -> bool:
        return _blue_part(self.staff.view()) == self.blue.view()

    def seed(self) -> None:
        m = self.staff.models
        with self.staff.session() as s:
            red = m.Team(name="red team", side=m.Side.RED, motto="we get in")
            blue = m.Team(name="blue team", side=m.Side.BLUE, motto="hold the line")
            s.add_all([red, blue])
            s.flush()
            people = {
                name: m.Participant(team=team.id, side=team.side, callsign=name)
                for name, team in (("alice", blue), ("bob", blue), ("mallory", red))
            }
            web = m.VirtualMachine(
                hostname="web01",
                address="10.0.0.5",
                team=blue.id,
                side=m.Side.BLUE,
                hypervisor="hv1",
            )
            c2 = m.Machine(
                hostname="c2", address="10.6.6.6", team=red.id, side=m.Side.RED
            )
            s.add_all([*people.values(), web, c2])
            s.commit()
            self.ids = {
                "alice": people["alice"].id,
                "bob": people["bob"].id,
                "web": web.id,
                "blue": blue.id,
            }
        self.show("staff-hq set up the exercise; the nodes are not connected yet")

    async def connect(self) -> None:
        self.staff.know(self.blue, connect=False)
        self.blue.know(self.staff, connect=True)
        await _until(self.converged)
        self.show("blue-field connected: it received the blue side only")

    async def open_help_request(self) -> None:
        m = self.blue.models
        with self.blue.session() as s:
            s.add(
                m.HelpRequest(
                    participant=self.ids["alice"],
                    side=m.Side.BLUE,
                    machine=self.ids["web"],
                    body="web01 is slow",
                )
            )
            s.commit()
        await _until(lambda: any(r[0] == "help" for r in self.staff.view()))
        self.show("alice (on blue-field) opened a help request")

    async def claim_help_request(self) -> None:
        import sqlalchemy as sa

        m = self.staff.models
        with self.staff.session() as s:
            request = s.scalars(sa.select(m.HelpRequest)).one()
            request.status = m.HelpRequestStatus.CLAIMED
            s.sync_commit()  # blue-field owns the request: a forward to its owner
        await _until(
            lambda: ("help", "web01 is slow", "claimed", "blue") in self.blue.view()
        )
        self.show("staff claimed it: a forward to the owner, blue-field, applied there")

    async def change_while_offline(self) -> None:
        import sqlalchemy as sa

        m, ids = self.staff.models, self.ids
        await self.blue.stop()
        with self.staff.session() as s:
            s.add(
                m.Handoff(
                    machine=ids["web"],
                    sequence=1,
                    side=m.Side.BLUE,
                    from_participant=ids["alice"],
                    to_participant=ids["bob"],
                )
            )
            s.get(m.Machine, ids["web"]).compromised = True
            s.add(
                m.Machine(
                    hostname="db01",
                    address="10.0.0.7",
                    team=ids["blue"],
                    side=m.Side.BLUE,
                )
            )
            s.commit()
        with self.blue.session() as s:  # no manager: stored now, sent on reconnect
            s.scalars(sa.select(m.HelpRequest)).one().status = (
                m.HelpRequestStatus.RESOLVED
            )
            s.add(
                m.HelpRequest(
                    participant=ids["bob"], side=m.Side.BLUE, body="need VPN creds"
                )
            )
            s.commit()
        self.show("blue-field went offline; both sides changed data meanwhile")

    async def reconnect(self) -> None:
        await self.blue.start()
        await _until(self.converged)
        self.show("blue-field reconnected; catch-up (IHave/YouHave) ran both ways")
        leaked = {r for r in self.blue.view() if r[3] != "blue"}
        if leaked:
            raise PolicyBroken(
                f"blue-field holds objects of another side: {sorted(leaked)}"
            )
        print(
            f"\nconverged after {time.monotonic() - self.started:.2f}s: blue-field holds "
            f"exactly the blue part of staff-hq's state ({len(self.blue.view())} objects);"
            " red objects never reached it."
        )


async def _scenario(directory: Path, started: float, exercise_sync: ModuleType) -> None:
    from entanglement.sql import SqlSyncDestination

    # Announce new serials quickly (the runtime's default batches them for 0.5 s).
    SqlSyncDestination.you_have_timeout = 0.1
    staff = Node(STAFF, directory, exercise_sync)
    blue = Node(BLUE, directory, exercise_sync)
    try:
        for node in (staff, blue):
            node.setup()
            await node.start()
        demo = _Demo(staff, blue, started)
        demo.seed()
        await demo.connect()
        await demo.open_help_request()
        await demo.claim_help_request()
        await demo.change_while_offline()
        await demo.reconnect()
    finally:
        for node in (staff, blue):
            await node.stop()
            if node.engine is not None:
                node.engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """Run the demo; 0 when the nodes converge, 1 otherwise."""
    args = _parse(list(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.CRITICAL,
        format="    [%(name)s] %(message)s",
    )
    try:
        models = importlib.import_module("exercise_sync")
    except ImportError as exc:
        print(
            f"entanglegen demo: the generated exercise_sync package is not importable "
            f"({exc}); run the demo in the entanglegen repository, where it builds "
            "schemas/ first",
            file=sys.stderr,
        )
        return 2
    started = time.monotonic()

    async def bounded(directory: Path) -> None:
        async with asyncio.timeout(args.timeout):
            await _scenario(directory, started, models)

    with tempfile.TemporaryDirectory(prefix="entanglegen-demo-") as tmp:
        directory = args.dir or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        print(f"certificates and SQLite files in {directory}")
        try:
            asyncio.run(bounded(directory))
        except TimeoutError:
            print(
                f"entanglegen demo: the nodes did not converge within {args.timeout:.0f}s",
                file=sys.stderr,
            )
            return 1
        except PolicyBroken as exc:
            print(f"entanglegen demo: {exc}", file=sys.stderr)
            return 1
    return 0
