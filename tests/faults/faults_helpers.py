"""What the fault-injection tests share: node processes, a seeded workload, comparisons.

Everything here is real: ``entanglegen node`` processes started through the CLI, TLS on
loopback, SQLite files (or PostgreSQL schemas), and an application writing into a
node's database with its own engine, as a user's application does.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from faults_app import Item

from entanglement.sql import sync_session_maker
from entanglement.sql.schema.tables import sync_owners

HERE = Path(__file__).parent
NODE = [sys.executable, "-c", "import sys; from entanglegen.cli import main; sys.exit(main())",
        "node"]  # fmt: skip
BASE = ["--base", "faults_app.Base"]
# Links cut every few hundred milliseconds never stay up long enough to reset the
# reconnect backoff; capping it keeps each run short (the default cap is 600 s).
MAX_BACKOFF = 2.0


def env() -> dict[str, str]:
    """The environment of child processes: faults_app is importable."""
    out = dict(os.environ)
    out["PYTHONPATH"] = os.pathsep.join([str(HERE), out.get("PYTHONPATH", "")])
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def node_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``entanglegen node ARGS`` to completion."""
    return subprocess.run([*NODE, *args], capture_output=True, text=True, env=env(),
                          timeout=timeout, check=False)  # fmt: skip


def cli_ok(*args: str) -> None:
    result = node_cli(*args)
    assert result.returncode == 0, result.stdout + result.stderr


class NodeProcess:
    """One ``entanglegen node serve`` process; its output is appended to ``log``."""

    def __init__(
        self,
        name: str,
        db: str,
        cert: Any,
        port: int,
        log: Path,
        max_backoff: float | None = MAX_BACKOFF,
    ) -> None:
        self.name = name
        self.db = db
        self.port = port
        self.log = log
        self.args = [
            "--db", db, *BASE, "serve", "--cert", str(cert.cert), "--key", str(cert.key),
            "--ca", str(cert.cafile), "--listen", f"127.0.0.1:{port}", "--poll", "0.2",
        ]  # fmt: skip
        if max_backoff is not None:
            self.args += ["--max-backoff", str(max_backoff)]
        self.proc: subprocess.Popen[str] | None = None
        self.exits: list[int] = []
        self._log_start = 0

    def start(self) -> None:
        assert self.proc is None
        self._log_start = len(self.text())
        with self.log.open("a") as out:
            self.proc = subprocess.Popen([*NODE, *self.args], stdout=out, stderr=out,
                                         env=env(), text=True)  # fmt: skip

    def wait_line(self, fragment: str, timeout: float = 60.0) -> None:
        """Wait until this run of the process logs ``fragment`` (bounded)."""
        deadline = time.monotonic() + timeout
        while fragment not in self.text()[self._log_start :]:
            assert self.alive(), f"{self.name} exited: {self.text()[-2000:]}"
            assert time.monotonic() < deadline, f"{self.name}: no {fragment!r}"
            time.sleep(0.02)

    def wait_listening(self, timeout: float = 60.0) -> None:
        """Wait until this run of the process listens (bounded)."""
        self.wait_line(" listening on ", timeout)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=30)
        self.proc = None
        self.exits.append(code)
        return code

    def kill(self) -> None:
        """kill -9."""
        assert self.stop(signal.SIGKILL) == -signal.SIGKILL

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def make_pair(
    pki: Any,
    dbs: dict[str, str],
    tmp_path: Path,
    ports: dict[str, int] | None = None,
    connect_port: int | None = None,
    max_backoff: float | None = MAX_BACKOFF,
) -> dict[str, NodeProcess]:
    """Nodes ``a`` (accepts) and ``b`` (connects to a, at ``connect_port`` if given).

    The tables are created and the destinations stored through the CLI.
    """
    ports = {"a": free_port(), "b": free_port(), **(ports or {})}
    for n in "ab":
        cli_ok("--db", dbs[n], *BASE, "list")
    cli_ok("--db", dbs["a"], "add", "--hash", str(pki["b"].hash), "--name", "b")
    cli_ok("--db", dbs["b"], "add", "--hash", str(pki["a"].hash), "--name", "a",
           "--host", "127.0.0.1", "--port", str(connect_port or ports["a"]))  # fmt: skip
    return {
        n: NodeProcess(n, dbs[n], pki[n], ports[n], tmp_path / f"{n}.log", max_backoff)
        for n in "ab"
    }


def stop_all(nodes: Iterable[NodeProcess]) -> None:
    for n in nodes:
        if n.proc is not None:
            n.proc.kill()
            n.proc.wait(timeout=30)
            n.proc = None


# -- the application's workload ----------------------------------------------------------


@dataclass
class Workload:
    """A seeded application committing inserts, updates and deletes to one database.

    Only rows this application created are updated or deleted (the node's own rows).
    """

    db: str
    rng: random.Random
    prefix: str
    live: list[uuid.UUID] = field(default_factory=list)
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    commits: int = 0

    def __post_init__(self) -> None:
        self.engine = sa.create_engine(self.db)
        self.maker = sync_session_maker(bind=self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def commit(self, ops: int, weights: tuple[int, int, int] = (6, 3, 1)) -> None:
        """One transaction of ``ops`` operations, drawn insert/update/delete by weight."""
        with self.maker() as session:
            for _ in range(ops):
                kind = self.rng.choices("iud", weights=weights)[0]
                if kind == "i" or len(self.live) < 2:
                    self._insert(session)
                elif kind == "u":
                    self._update(session)
                else:
                    self._delete(session)
                session.flush()
            session.commit()
        self.commits += 1

    def bulk_insert(self, rows: int) -> None:
        """One transaction and one flush (so one serial) inserting ``rows`` rows."""
        with self.maker() as session:
            for _ in range(rows):
                self._insert(session)
            session.commit()
        self.commits += 1

    def _insert(self, session: Any) -> None:
        item = Item(
            id=uuid.UUID(int=self.rng.getrandbits(128), version=4),
            label=f"{self.prefix}{self.inserted}",
            count=self.rng.randrange(-1000, 1000),
            weight=self.rng.uniform(-1e6, 1e6),
            note=self.rng.choice([None, "", 'ñ ✓ "quoted"', "x" * 300]),
            done=self.rng.random() < 0.5,
        )
        session.add(item)
        self.live.append(item.id)
        self.inserted += 1

    def _update(self, session: Any) -> None:
        item = session.get(Item, self.rng.choice(self.live))
        item.count += self.rng.randrange(1, 100)
        item.weight = self.rng.uniform(-1e6, 1e6)
        item.note = self.rng.choice([None, f"edit {self.updated}", item.note])
        item.done = not item.done
        self.updated += 1

    def _delete(self, session: Any) -> None:
        victim = self.live.pop(self.rng.randrange(len(self.live)))
        session.delete(session.get(Item, victim))
        self.deleted += 1

    def summary(self) -> str:
        return (
            f"{self.prefix}: {self.inserted} inserts, {self.updated} updates, "
            f"{self.deleted} deletes in {self.commits} commits"
        )


# -- comparing the databases row by row --------------------------------------------------


def table_rows(db: str) -> dict[Any, tuple[Any, ...]]:
    """Every row of the synchronised table (all columns, ``sync_serial`` and owner
    included) by primary key; empty while the table cannot be read."""
    engine = sa.create_engine(db)
    table = Item.__table__
    try:
        with engine.connect() as conn:
            return {row.id: tuple(row) for row in conn.execute(sa.select(table))}
    except sa.exc.OperationalError:
        return {}
    finally:
        engine.dispose()


def count_rows(db: str) -> int:
    """How many rows the synchronised table holds (0 while it cannot be read)."""
    engine = sa.create_engine(db)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(sa.select(sa.func.count()).select_from(Item)) or 0)
    except sa.exc.OperationalError:
        return 0
    finally:
        engine.dispose()


def owner_ids(db: str) -> set[uuid.UUID]:
    engine = sa.create_engine(db)
    try:
        with engine.connect() as conn:
            return set(conn.scalars(sa.select(sync_owners.c.id)))
    finally:
        engine.dispose()


def differences(a: dict[Any, tuple[Any, ...]], b: dict[Any, tuple[Any, ...]]) -> str:
    """A short description of how two row sets differ ('' when equal)."""
    only_a = sorted(set(a) - set(b), key=str)
    only_b = sorted(set(b) - set(a), key=str)
    changed = sorted((k for k in set(a) & set(b) if a[k] != b[k]), key=str)
    if not (only_a or only_b or changed):
        return ""
    parts = [f"{len(a)} vs {len(b)} rows"]
    for what, keys, rows in (("only in a", only_a, a), ("only in b", only_b, b)):
        if keys:
            labels = sorted(rows[k][1] for k in keys)
            parts.append(f"{len(keys)} {what}: {' '.join(labels[:12])}")
    if changed:
        k = changed[0]
        parts.append(f"{len(changed)} differ, e.g. a={a[k]} b={b[k]}")
    return "; ".join(parts)


def wait_converged(
    dbs: dict[str, str], timeout: float
) -> tuple[dict[Any, tuple[Any, ...]], str]:
    """Wait until both databases hold the same rows; returns (rows, '' or the diff).

    Bounded: gives up after ``timeout`` seconds and returns the last difference.
    """
    deadline = time.monotonic() + timeout
    while True:
        a, b = table_rows(dbs["a"]), table_rows(dbs["b"])
        diff = differences(a, b)
        if not diff or time.monotonic() > deadline:
            return a, diff
        time.sleep(0.3)


def scan_logs(nodes: Iterable[NodeProcess]) -> str:
    """Lines of the node logs that show a crash of the node itself, or a traceback
    (every fault here is an expected one: each is logged as one line, never with a
    traceback), with the line before each traceback (the record it belongs to)."""
    bad = []
    for n in nodes:
        previous = ""
        for line in n.text().splitlines():
            if "internal error" in line or "please report this" in line:
                bad.append(f"{n.name}: {line}")
            elif line.startswith("Traceback"):
                bad.append(f"{n.name}: traceback after: {previous}")
            previous = line
    return "\n".join(bad)
