"""``entanglegen node`` as a user runs it: separate processes on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from node_app import Item

from entanglement.node import main
from entanglement.sql import sync_session_maker

HERE = Path(__file__).parent
NODE = [sys.executable, "-c", "import sys; from entanglegen.cli import main; sys.exit(main())",
        "node"]  # fmt: skip


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    return env


def node(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NODE, *args], capture_output=True, text=True, env=_env(),
                          timeout=60)  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Serving:
    """A running ``entanglegen node serve`` process."""

    def __init__(self, db: str, cert, port: int, log: Path) -> None:
        self.args = [
            "--db", db, "--base", "node_app.Base", "serve", "--cert", str(cert.cert),
            "--key", str(cert.key), "--ca", str(cert.cafile),
            "--listen", f"127.0.0.1:{port}", "--poll", "0.2",
        ]  # fmt: skip
        self.log = log
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        out = self.log.open("a")
        self.proc = subprocess.Popen([*NODE, *self.args], stdout=out, stderr=out,
                                     env=_env(), text=True)  # fmt: skip
        out.close()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=30)
        self.proc = None
        return code


@pytest.fixture
def nodes(pki, db_factory, tmp_path) -> Iterator[dict]:
    ports = {"a": free_port(), "b": free_port()}
    dbs = {n: db_factory(n) for n in ports}
    serving = {
        n: Serving(dbs[n], pki[n], ports[n], tmp_path / f"{n}.log") for n in ports
    }
    yield {"ports": ports, "dbs": dbs, "serving": serving}
    for s in serving.values():
        if s.proc is not None:
            s.proc.kill()
            s.proc.wait()


def write_items(db: str, *labels: str) -> None:
    """An application committing rows into a node's database (no manager of its own)."""
    engine = sa.create_engine(db)
    with sync_session_maker(bind=engine)() as session:
        session.add_all(Item(label=label) for label in labels)
        session.commit()
    engine.dispose()


def labels(db: str) -> set[str]:
    engine = sa.create_engine(db)
    try:
        with sa.orm.Session(engine) as session:
            return set(session.scalars(sa.select(Item.label)))
    except sa.exc.OperationalError:
        return set()
    finally:
        engine.dispose()


def wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


def test_destinations_are_managed_from_the_command_line(pki, db_url, capsys) -> None:
    text = str(pki["b"].hash)
    assert main(["--db", db_url, "add", "--hash", text, "--host", "127.0.0.1",
                 "--port", "9999", "--name", "bee"]) == 0  # fmt: skip
    assert main(["--db", db_url, "add", "--hash", str(pki["c"].hash)]) == 0
    capsys.readouterr()
    assert main(["--db", db_url, "list"]) == 0
    listed = capsys.readouterr().out
    assert f"{text}  bee  127.0.0.1:9999" in listed
    assert f"{pki['c'].hash}  incoming  (incoming only)" in listed
    assert main(["--db", db_url, "add", "--hash", text, "--host", "x"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["--db", db_url, "remove", "--hash", text]) == 0
    assert main(["--db", db_url, "remove", "--hash", text]) == 2
    assert "no destination" in capsys.readouterr().err
    assert main(["--db", db_url, "list"]) == 0
    assert text not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--db", "nosuchdialect://x", "list"], "bad database URL"),
        (["--base", "no_such_module.Base", "list"], "cannot import no_such_module"),
        (["--base", "node_app.Missing", "list"], "has no 'Missing'"),
        (["add", "--hash", "not-a-hash", "--host", "h"], "argument --hash"),
    ],
)
def test_bad_input_gives_one_clear_line(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.syspath_prepend(str(HERE))
    if "--db" not in args:
        args = ["--db", f"sqlite:///{tmp_path / 'x.db'}", *args]
    try:
        status = main(args)
    except SystemExit as exc:  # argparse refuses the arguments itself
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_serve_with_an_unreadable_certificate_is_a_clear_error(tmp_path, capsys):
    missing = str(tmp_path / "missing.pem")
    status = main(["--db", f"sqlite:///{tmp_path / 'x.db'}", "serve", "--cert", missing,
                   "--key", missing, "--ca", missing, "--listen", "127.0.0.1:0"])  # fmt: skip
    assert status == 2
    assert "cannot read" in capsys.readouterr().err


def test_two_node_processes_converge_and_survive_a_restart(pki, nodes, monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))
    ports, dbs, serving = nodes["ports"], nodes["dbs"], nodes["serving"]
    for n in "ab":  # create the tables (in process: the same main() the CLI runs)
        assert main(["--db", dbs[n], "--base", "node_app.Base", "list"]) == 0
    assert main(["--db", dbs["a"], "add", "--hash", str(pki["b"].hash)]) == 0
    write_items(dbs["a"], "a1", "a2")
    write_items(dbs["b"], "b1")
    serving["a"].start()
    serving["b"].start()
    # b learns about a while running: picked up by the destination poll
    assert node("--db", dbs["b"], "add", "--hash", str(pki["a"].hash), "--host",
                "127.0.0.1", "--port", str(ports["a"])).returncode == 0  # fmt: skip
    everything = {"a1", "a2", "b1"}
    wait_for(lambda: labels(dbs["a"]) == labels(dbs["b"]) == everything)
    write_items(dbs["a"], "a3")  # committed by an application while both run
    wait_for(lambda: "a3" in labels(dbs["b"]))

    assert serving["b"].stop(signal.SIGTERM) == 0
    write_items(dbs["a"], "a4", "a5")
    write_items(dbs["b"], "b2")  # b's own application writes while b's node is down
    serving["b"].start()
    everything |= {"a3", "a4", "a5", "b2"}
    wait_for(lambda: labels(dbs["a"]) == labels(dbs["b"]) == everything)
    assert serving["a"].stop(signal.SIGINT) == 0
    assert serving["b"].stop(signal.SIGTERM) == 0
    log = (serving["b"].log).read_text()
    assert "Traceback" not in log
    assert "stopping: closing" in log
