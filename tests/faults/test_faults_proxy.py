"""Links cut at random points while the applications commit: nothing lost, same rows.

Node b reaches node a only through :class:`~faults_proxy.CuttingProxy`, which aborts
each link 50-500 ms after it opens or after a random number of bytes (inside the TLS
handshake, inside frames, during catch-ups).  Meanwhile a's application commits
inserts, updates and deletes into a's database (b's application commits some too), so
every cut lands somewhere in a flood, a push of the commit watcher or a resync.  When the
cutting stops both databases must hold the same rows, column by column, ``sync_serial``
and owner included, and exactly the rows the applications left alive.
"""

from __future__ import annotations

import random
import time

import pytest
from faults_helpers import (
    Workload,
    free_port,
    make_pair,
    owner_ids,
    scan_logs,
    stop_all,
    wait_converged,
)
from faults_proxy import CuttingProxy

pytestmark = pytest.mark.faults

CUTS = 6  # the applications commit until the proxy has cut this many links
MAX_WRITE_SECONDS = 30.0
CONVERGE_SECONDS = 60.0


def test_links_cut_at_random_points_while_nodes_commit(pki, db_factory, tmp_path,
                                                       fault_seed) -> None:  # fmt: skip
    rng = random.Random(fault_seed)
    dbs = {n: db_factory(n) for n in "ab"}
    a_port = free_port()
    with CuttingProxy(a_port, random.Random(rng.getrandbits(64))) as proxy:
        nodes = make_pair(
            pki, dbs, tmp_path, ports={"a": a_port}, connect_port=proxy.port
        )
        wa = Workload(dbs["a"], random.Random(rng.getrandbits(64)), "a")
        wb = Workload(dbs["b"], random.Random(rng.getrandbits(64)), "b")
        try:
            wa.commit(200)  # something to catch up on from the first link
            for n in nodes.values():
                n.start()
            for n in nodes.values():
                n.wait_listening()
            deadline = time.monotonic() + MAX_WRITE_SECONDS
            while proxy.cuts < CUTS and time.monotonic() < deadline:
                wa.commit(rng.randint(1, 40))
                if rng.random() < 0.3:
                    wb.commit(rng.randint(1, 8))
                time.sleep(rng.uniform(0, 0.05))
            proxy.cutting = False
            rows, diff = wait_converged(dbs, CONVERGE_SECONDS)
            alive = all(n.alive() for n in nodes.values())
        finally:
            stop_all(nodes.values())
            wa.close()
            wb.close()
        report = (
            f"seed {fault_seed}: {wa.summary()}; {wb.summary()}; {proxy.cuts} cuts "
            f"of {proxy.links} links"
        )
        print(report)
        assert proxy.cuts >= CUTS, report  # the faults really happened
        assert not diff, f"{report}: not converged: {diff}"
        assert set(rows) == set(wa.live) | set(wb.live), report
        assert owner_ids(dbs["a"]) == owner_ids(dbs["b"]), report
        assert alive, report
        assert not scan_logs(nodes.values()), scan_logs(nodes.values())
