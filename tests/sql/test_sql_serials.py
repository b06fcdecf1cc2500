"""Serial allocation under concurrency: unique, and visible in increasing order.

Several processes commit serials at once while this process watches the committed rows.
The property peers rely on: once serial s is visible, no row with a serial below s appears
later (else a peer that was told "you have up to s" would miss it forever).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from entanglement.sql.schema.upgrade import create_bookkeeping_tables

WORKER = Path(__file__).with_name("serial_worker.py")
PROCESSES = 4
COMMITS = 40


def test_serials_from_several_processes_are_unique_and_ordered(
    engine: sa.Engine,
) -> None:
    create_bookkeeping_tables(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE probe (serial INTEGER NOT NULL)"))
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                str(WORKER),
                str(engine.url.render_as_string(hide_password=False)),
                str(COMMITS),
            ]
        )
        for _ in range(PROCESSES)
    ]
    seen: set[int] = set()
    high_water = 0
    deadline = time.monotonic() + 120
    while True:
        finished = all(w.poll() is not None for w in workers)
        with engine.connect() as conn:
            rows = {r for (r,) in conn.execute(sa.text("SELECT serial FROM probe"))}
        late = sorted(s for s in rows - seen if s <= high_water)
        assert not late, f"serials {late} became visible after serial {high_water}"
        seen |= rows
        high_water = max(seen, default=0)
        if finished:
            break
        assert time.monotonic() < deadline, "workers did not finish"
    assert [w.returncode for w in workers] == [0] * PROCESSES
    assert len(seen) == PROCESSES * COMMITS
    with engine.connect() as conn:
        serials = [s for (s,) in conn.execute(sa.text("SELECT serial FROM probe"))]
    assert len(serials) == len(set(serials))
