"""SIGKILL in the middle of commits and of a catch-up: nothing lost, no serial reused."""

from __future__ import annotations

import signal
import subprocess
import sys

import sqlalchemy as sa
from node_app import Item
from test_sql_node import HERE, Serving, _env, free_port, labels, wait_for, write_items

from entanglement.node import main
from entanglement.sql.schema.tables import sync_serial


def _serials(db: str) -> dict[str, int]:
    engine = sa.create_engine(db)
    with sa.orm.Session(engine) as session:
        rows = {
            label: serial
            for label, serial in session.execute(
                sa.select(Item.label, Item.sync_serial)
            )
        }
        allocated = session.scalars(sa.select(sync_serial.c.serial)).all()
    engine.dispose()
    assert len(allocated) == len(set(allocated))
    return rows


def _kill_writer_mid_commit(db: str, batches: int) -> None:
    writer = subprocess.Popen(
        [sys.executable, str(HERE / "kill_writer.py"), db, "w"],
        stdout=subprocess.PIPE, text=True, env=_env(),
    )  # fmt: skip
    assert writer.stdout is not None
    for _ in range(batches):
        writer.stdout.readline()
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    writer.stdout.close()


def test_sigkill_of_a_writer_and_of_a_catching_up_node_loses_nothing(
    pki, db_factory, tmp_path, monkeypatch
) -> None:
    monkeypatch.syspath_prepend(str(HERE))
    ports = {"a": free_port(), "b": free_port()}
    dbs = {n: db_factory(n) for n in ports}
    serving = {
        n: Serving(dbs[n], pki[n], ports[n], tmp_path / f"{n}.log") for n in ports
    }
    try:
        for n in "ab":
            assert main(["--db", dbs[n], "--base", "node_app.Base", "list"]) == 0
        assert main(["--db", dbs["a"], "add", "--hash", str(pki["b"].hash)]) == 0
        assert main(["--db", dbs["b"], "add", "--hash", str(pki["a"].hash), "--host",
                     "127.0.0.1", "--port", str(ports["a"])]) == 0  # fmt: skip
        serving["a"].start()
        _kill_writer_mid_commit(
            dbs["a"], batches=10
        )  # a has no node-side flood for these
        serving["b"].start()
        wait_for(lambda: len(labels(dbs["b"])) > 0)
        assert serving["b"].stop(signal.SIGKILL) == -signal.SIGKILL  # mid catch-up
        write_items(dbs["a"], "after the kills")
        serving["b"].start()
        wait_for(lambda: labels(dbs["b"]) == labels(dbs["a"]))
        at_a, at_b = _serials(dbs["a"]), _serials(dbs["b"])
        assert at_a == at_b  # same rows, each with the serial its owner gave it
        last = at_a["after the kills"]
        assert last > max(s for label, s in at_a.items() if label != "after the kills")
    finally:
        for s in serving.values():
            if s.proc is not None:
                s.stop()
