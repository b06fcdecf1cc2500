"""Harness of the mixed-version end-to-end tests: generated versions and node processes.

:func:`versions` generates one schema change as a user makes it: schema v1, ``entanglegen
migrations new`` (the baseline) and ``build``; then schema v2, ``migrations new`` and
``build`` again.  Each version's package is copied into a directory of its own, so that
one node process runs v1 and another v2 (the same package name, as on two machines).
:class:`Node` is one ``entanglegen node`` over a database: its commands, its ``serve``
process (TLS on loopback) and its log; :func:`write` is an application of a given
version committing rows into a node's database from a process of its own
(``evo_app.py``).  Databases are compared through reflection, every column included.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from entanglegen.cli import main as entanglegen
from entanglement.node import main as node_main

HERE = Path(__file__).parent
CLI = [
    sys.executable,
    "-c",
    "import sys; from entanglegen.cli import main; sys.exit(main())",
]


@dataclass(frozen=True)
class Versions:
    """The generated package of each schema version, importable from ``v1``/``v2``."""

    package: str
    v1: Path
    v2: Path


def _cli(root: Path, *args: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    old = Path.cwd()
    os.chdir(root)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = entanglegen(list(args))
    finally:
        os.chdir(old)
    assert code == 0, f"entanglegen {' '.join(args)}: {out.getvalue()}{err.getvalue()}"


def versions(root: Path, package: str, v1: str, v2: str) -> Versions:
    """Generate ``package`` at schema v1 then v2 (with their migrations) under ``root``."""
    (root / "schemas").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[tool.entanglegen]\nschemas = ["schemas"]\noutput = "generated"\n'
    )
    made = {}
    for label, text, message in (("v1", v1, "Baseline"), ("v2", v2, "Change")):
        (root / "schemas" / "evo.yaml").write_text(text.format(package=package))
        _cli(root, "migrations", "new", "-m", message)
        _cli(root, "build")
        made[label] = root / label
        shutil.copytree(root / "generated" / package, made[label] / package)
    return Versions(package, made["v1"], made["v2"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(path), env.get("PYTHONPATH", "")])
    return env


class Node:
    """One ``entanglegen node`` on its database, running one schema version."""

    def __init__(self, name: str, db: str, cert: Any, log: Path, package: str) -> None:
        self.name, self.db, self.cert, self.log = name, db, cert, log
        self.base = f"{package}.Base"
        self.port = free_port()
        self.version: Path | None = None
        self.proc: subprocess.Popen[str] | None = None

    def add(self, other: Node, *, connect: bool) -> None:
        """Store ``other`` as a destination (in this process: no package needed)."""
        args = ["--db", self.db, "add", "--hash", str(other.cert.hash), "--name",
                other.name]  # fmt: skip
        if connect:
            args += ["--host", "127.0.0.1", "--port", str(other.port)]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = node_main(args)
        assert code == 0, out.getvalue() + err.getvalue()

    def run(self, version: Path, *args: str) -> str:
        """Run a node command with ``version``'s package (it must succeed)."""
        done = subprocess.run(
            [*CLI, "node", "--db", self.db, "--base", self.base, *args],
            capture_output=True, text=True, env=_env(version), timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, f"node {args}: {done.stdout}{done.stderr}"
        return done.stdout

    def start(self, version: Path) -> None:
        """``serve`` with ``version``'s package (appending to the log)."""
        self.version = version
        args = ["--db", self.db, "--base", self.base, "serve", "--cert",
                str(self.cert.cert), "--key", str(self.cert.key), "--ca",
                str(self.cert.cafile), "--listen", f"127.0.0.1:{self.port}",
                "--poll", "0.2", "--max-backoff", "0.5"]  # fmt: skip
        with self.log.open("a") as out:
            self.proc = subprocess.Popen([*CLI, "node", *args], stdout=out,
                                         stderr=out, env=_env(version), text=True)  # fmt: skip

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            code = self.proc.wait(timeout=30)
            self.proc = None
            assert code == 0, f"exit status {code}:\n{self.text()}"

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def write(self, *ops: Any) -> None:
        """Commit ``ops`` as an application of this node's current version would."""
        write_all((self, list(ops)))


def write_all(*work: tuple[Node, list[Any]]) -> None:
    """Each node's application commits its ops, the applications running at once."""
    procs = []
    for node, ops in work:
        assert node.version is not None
        procs.append(subprocess.Popen(
            [sys.executable, str(HERE / "evo_app.py"), node.db,
             node.base.split(".")[0], json.dumps(ops)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=_env(node.version),
        ))  # fmt: skip
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out


def rows(db: str) -> dict[Any, dict[str, Any]]:
    """id → every column of ``strokes`` (values, owner and ``sync_serial``)."""
    engine = sa.create_engine(db)
    try:
        with engine.connect() as conn:
            table = sa.Table("strokes", sa.MetaData(), autoload_with=conn)
            return {
                row.id: dict(row._mapping) for row in conn.execute(sa.select(table))
            }
    finally:
        engine.dispose()


def _scalar(db: str, query: str) -> Any:
    engine = sa.create_engine(db)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(query)).scalar()
    finally:
        engine.dispose()


def local_owner(db: str) -> str:
    """The id text of the node's local owner."""
    value = _scalar(db, "select id from sync_owners where dest_hash is null")
    text = str(value).replace("-", "")
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def last_serial(db: str) -> int:
    return int(_scalar(db, "select max(serial) from sync_serial") or 0)


def announced(receiver: Node, owner: str, serial: int, since: int = 0) -> bool:
    """True once ``receiver`` handled a YouHave of ``owner`` at ``serial`` (recorded,
    or held back because it refused some of the owner's rows), in its log from
    character ``since`` on."""
    pattern = re.compile(
        rf"(owner {owner} at serial {serial}\b)|(owner {owner} were refused; recording"
        rf" serial \d+, not {serial}\b)"
    )
    return pattern.search(receiver.text(), since) is not None


def wait_for(
    predicate: Callable[[], bool], what: str | Callable[[], str], timeout: float = 60.0
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            text = what() if callable(what) else what
            raise AssertionError(f"not reached in {timeout} s: {text}")
        time.sleep(0.1)
