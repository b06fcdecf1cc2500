"""A database locked for longer than the driver's busy timeout (issue 10 item 10).

Another writer takes an exclusive lock on a node's SQLite file and holds it past
pysqlite's busy timeout (5 s), first on node a's file while nothing happens (a's
periodic reads of its destinations and commits meet the lock: the case of the issue),
then on b's file while a's application commits (a pushes to b, which cannot store).  Before the fix the node exited with status 2 and "internal
error ... please report this" after the first failed re-read of its destination table.
Now it must stay up, log one warning per episode naming the database (and one line when
the database answers again), and in the end both databases hold the same rows, column by
column, ``sync_serial`` and owner included.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from faults_helpers import (
    BASE,
    NodeProcess,
    Workload,
    cli_ok,
    free_port,
    make_pair,
    scan_logs,
    stop_all,
    wait_converged,
)

pytestmark = pytest.mark.faults

BUSY_TIMEOUT = 5.0  # pysqlite's default, which the node's engine uses


@contextmanager
def exclusive_lock(path: Path, seconds: float) -> Iterator[threading.Thread]:
    """Hold an exclusive lock on the SQLite file for ``seconds`` from a second writer.

    Entered once the lock is held; the body runs while it is held; leaving waits until
    it has been released.
    """
    held = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        try:
            conn.execute("BEGIN EXCLUSIVE")
            held.set()
            time.sleep(seconds)
            conn.execute("ROLLBACK")
        finally:
            conn.close()

    thread = threading.Thread(target=hold, name=f"lock {path.name}")
    thread.start()
    try:
        assert held.wait(30), f"could not lock {path}"
        yield thread
    finally:
        thread.join(seconds + 30)


def _commit_while(thread: threading.Thread, work: Workload, rng: random.Random) -> None:
    while thread.is_alive():
        work.commit(rng.randint(1, 20))
        time.sleep(rng.uniform(0.05, 0.3))


def test_a_lock_held_past_the_busy_timeout_is_waited_out(pki, tmp_path, fault_seed):
    rng = random.Random(fault_seed)
    files = {n: tmp_path / f"{n}.sqlite" for n in "ab"}
    dbs = {n: f"sqlite:///{files[n]}" for n in "ab"}
    nodes = make_pair(pki, dbs, tmp_path, max_backoff=None)  # the default: 600 s
    wa = Workload(dbs["a"], random.Random(rng.getrandbits(64)), "a")
    wb = Workload(dbs["b"], random.Random(rng.getrandbits(64)), "b")
    # a's lock outlasts two busy timeouts: a late message from b (a YouHave) may keep
    # a's event loop inside one receive for a whole timeout, and the periodic read
    # that follows must still meet the lock
    held = [
        rng.uniform(2 * BUSY_TIMEOUT + 1.5, 2 * BUSY_TIMEOUT + 2.5),
        rng.uniform(BUSY_TIMEOUT + 1.5, BUSY_TIMEOUT + 3.5),
    ]
    try:
        wa.commit(100)
        wb.commit(50)
        for n in nodes.values():
            n.start()
        for n in nodes.values():
            n.wait_listening()
        wait_converged(dbs, 60.0)
        time.sleep(1.5)  # the YouHave announcements that follow (0.5 s)
        with exclusive_lock(files["a"], held[0]):
            pass  # nothing to receive: a's periodic reads meet the lock (item 10)
        with exclusive_lock(files["b"], held[1]) as lock:
            _commit_while(lock, wa, rng)  # a pushes to b, which cannot store
        wa.commit(20)
        wb.commit(20)
        rows, diff = wait_converged(dbs, 60.0)
        alive = {n.name: n.alive() for n in nodes.values()}
    finally:
        stop_all(nodes.values())
        wa.close()
        wb.close()
    report = (
        f"seed {fault_seed}: locks of {held[0]:.1f} s on a, {held[1]:.1f} s on b; "
        f"{wa.summary()}; {wb.summary()}"
    )
    print(report)
    assert alive == {"a": True, "b": True}, f"{report}: {scan_logs(nodes.values())}"
    assert not scan_logs(nodes.values()), scan_logs(nodes.values())
    assert not diff, f"{report}: not converged: {diff}"
    assert set(rows) == set(wa.live) | set(wb.live), report
    for n in nodes.values():
        # One warning per episode, and its end.  b's event loop may sit out its lock
        # inside a receive and find the database free at its next periodic read: then
        # it has nothing to report; a had nothing to receive during its lock.
        text = n.text()
        warned = text.count(f"database {files[n.name]} is unavailable")
        assert warned <= 1, f"{report}: {n.name} warned {warned} times:\n{text}"
        assert warned or n.name == "b", f"{report}: a did not meet the lock:\n{text}"
        if warned:
            assert f"database {files[n.name]} is available again" in text, text


def test_serve_started_while_the_database_is_locked_waits_for_it(pki, tmp_path):
    path = tmp_path / "a.sqlite"
    # A 1 s busy timeout (pysqlite's ``timeout`` in the URL), so that a lock of 12 s
    # surely outlasts the process's start-up (imports) plus the timeout.
    db = f"sqlite:///{path}?timeout=1"
    cli_ok("--db", db, *BASE, "list")  # the tables
    node = NodeProcess("a", db, pki["a"], free_port(), tmp_path / "a.log")
    try:
        with exclusive_lock(path, 12.0):
            node.start()  # its start-up reads and the write check meet the lock
        node.wait_listening()
        assert node.alive()
    finally:
        stop_all([node])
    text = node.text()
    assert text.count(f"database {path} is unavailable") == 1, text
    assert "starting the node is retried with backoff" in text, text
    assert f"database {path} is available again" in text, text
    assert not scan_logs([node]), text
