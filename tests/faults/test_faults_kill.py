"""kill -9 of a node process in the middle of a catch-up, three times, then restart.

Node a holds thousands of rows of its application; b starts empty and catches up.  At a
random point of the catch-up (a row count drawn from the seed) one of the two processes
is killed with SIGKILL (mostly b, the receiver, sometimes a, the sender), a's
application commits more inserts, updates and deletes while it is down, and the
process is restarted.  After the last round both databases must hold the same rows,
column by column, ``sync_serial`` and owner included, and exactly the rows a's
application left alive.
"""

from __future__ import annotations

import random
import time

import pytest
from faults_helpers import (
    Workload,
    count_rows,
    make_pair,
    owner_ids,
    scan_logs,
    stop_all,
    wait_converged,
)

pytestmark = pytest.mark.faults

ROUNDS = 3
INITIAL_ROWS = 4000


def _wait_rows(db: str, target: int, timeout: float = 30.0) -> None:
    """Until b's table holds ``target`` rows, or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while count_rows(db) < target and time.monotonic() < deadline:
        time.sleep(0.01)


def test_kill_9_mid_catch_up_and_restart(pki, tmp_path, fault_seed):
    rng = random.Random(fault_seed)
    # SQLite only: the proxy test covers PostgreSQL, and the suite's time is bounded
    dbs = {n: f"sqlite:///{tmp_path / n}.sqlite" for n in "ab"}
    nodes = make_pair(pki, dbs, tmp_path)
    wa = Workload(dbs["a"], random.Random(rng.getrandbits(64)), "a")
    kills: list[str] = []
    mid_catch_up = 0
    try:
        for _ in range(INITIAL_ROWS // 1000):
            wa.bulk_insert(1000)
        nodes["a"].start()
        nodes["a"].wait_listening()
        for _ in range(ROUNDS):
            nodes["b"].start()
            # after this line b has cleared what an interrupted catch-up left
            nodes["b"].wait_line("connected, resync started")
            _wait_rows(dbs["b"], int(rng.uniform(0.05, 0.9) * count_rows(dbs["a"])))
            victim = nodes[rng.choice("abb")]
            victim.kill()
            seen, total = count_rows(dbs["b"]), count_rows(dbs["a"])
            kills.append(f"{victim.name} with {seen}/{total} rows at b")
            mid_catch_up += 0 < seen < total
            wa.commit(rng.randint(50, 300), weights=(3, 4, 3))
            wa.bulk_insert(rng.randint(300, 1000))  # more to catch up on next time
            if not nodes["a"].alive():
                nodes["a"].start()
                nodes["a"].wait_listening()
            if nodes["b"].alive():
                nodes["b"].kill()  # the next round starts b again
        nodes["b"].start()
        rows, diff = wait_converged(dbs, 90.0)
        alive = all(n.alive() for n in nodes.values())
    finally:
        stop_all(nodes.values())
        wa.close()
    report = f"seed {fault_seed}: {wa.summary()}; kills: {', '.join(kills)}"
    print(report)
    assert mid_catch_up, f"{report}: no kill landed in the middle of a catch-up"
    assert not diff, f"{report}: not converged: {diff}"
    assert set(rows) == set(wa.live), report
    assert owner_ids(dbs["a"]) == owner_ids(dbs["b"]), report
    assert alive, report
    assert not scan_logs(nodes.values()), scan_logs(nodes.values())
