"""Benchmark: a fresh peer catching up N rows over TLS, two node processes, beside its floor.

Usage::

    .venv/bin/python bench/catchup.py [--rows 100000] [--backend sqlite|postgres|both]
                                      [--repeat 5] [--batches 10] [--batch-size 1000]
                                      [--quick]

Per backend (SQLite files; PostgreSQL on 127.0.0.1:5432 db ``test``, a fresh schema per
database of every run), with the application of ``bench/_cu_models.py`` (its registry
overrides ``sync_receive`` and calls super):

* **catch-up** (issue 12 item 3): two processes, as deployed: an ``entanglegen node
  serve`` process (the answering node) holds the N rows of one owner; a receiving node
  process (``bench/_cu_nodes.py peer``) with a fresh database adds it as a destination;
  timed from ``add_destination`` until the receiving database holds every row and has
  recorded the owner's serial.
* **floor**: the same rows moved the same way with no library code: a process reads
  them with SQLAlchemy Core (streamed) and writes each as a JSON frame over TLS; another
  process, with a fresh table of the same shape, decodes the frames and inserts with
  Core ``executemany`` per 1,000 rows (one transaction); timed from its connect until
  the rows are committed.
* **floor, one process** (context): Core read + executemany insert in one process, no
  network (the previous benchmark's floor).
* **commit** / **commit, yielding** (after the last catch-up): ``sync_commit()`` +
  ``commit()`` of ``--batches`` batches of ``--batch-size`` rows in a managed session of
  the receiving node, flooded to the answering node; timed until the answering node's
  database holds them all; the yielding run returns to the event loop after each batch,
  as an asyncio application does between transactions.  Against **commit floor**: the
  same batches committed with a plain ORM Session, no sync, into a table that already
  holds N rows, as the peer's table does by then.

Catch-up and floor alternate ``--repeat`` times; each gives its best and median and
the ratios are of figures of the same run.  Every process is started (and the node is
listening) before any clock starts.  Prints a table and writes
``bench/results/catchup-<backend>.json``.
"""

from __future__ import annotations

import argparse
import os
import pstats
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from _common import HERE, Child, Pki, best_median, close_all, load_note, write_json
from _cu_data import Databases, measure_commit_floor, measure_floor, prepare_server

NODES = str(HERE / "_cu_nodes.py")
RESULTS = HERE / "results"


# -- the processes -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def node_command(url: str, profile: Path | None = None) -> list[str]:
    """``entanglegen node`` on ``url`` with the benchmark's application.

    With ``profile``, under cProfile (stats written there when the node exits).
    """
    code = (
        "import sys; from entanglement.node import main; sys.exit(main(sys.argv[1:]))"
    )
    if profile is not None:
        code = ("import cProfile, sys; from entanglement.node import main; "
                f"cProfile.run('main(sys.argv[1:])', {str(profile)!r})")  # fmt: skip
    return [sys.executable, "-c", code, "--db", url, "--base", "_cu_models.Base"]


def node_env() -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a child process so far, from ``/proc`` (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class NodeExited(RuntimeError):
    """The answering node exited before listening (its port was taken, or a bug)."""


def wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until something accepts connections on ``port`` (the node, once it serves)."""
    for _ in range(1200):
        if proc.poll() is not None:
            raise NodeExited(f"the node exited: {log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("the node did not start listening")


class Run:
    """One backend's databases, certificates and processes."""

    def __init__(self, backend: str, work: Path, args: argparse.Namespace) -> None:
        self.backend, self.work, self.args = backend, work, args
        self.pki = Pki(work / "pki", ["server", "peer"])
        self.dbs = Databases(backend, work)
        self.server_url = self.dbs.url("server")
        self.top = prepare_server(self.server_url, args.rows)
        subprocess.run([*node_command(self.server_url), "add", "--hash",
                        self.pki.hashes["peer"]], check=True, env=node_env(),
                       capture_output=True)  # fmt: skip
        self.rounds = 0
        self.profile_dir: Path | None = None

    def catchup(self, commits: bool) -> dict[str, Any]:
        """One catch-up of a fresh receiving node (then the commit floods if asked)."""
        self.rounds += 1
        node, port = self.start_node()
        extra = ["--server-db", self.server_url, "--batches", str(self.args.batches),
                 "--batch-size", str(self.args.batch_size)] if commits else []  # fmt: skip
        children: list[Child] = []
        try:
            peer = self.child("peer", "peer", "--peer-hash", self.pki.hashes["server"],
                              "--port", str(port), "--top", str(self.top), *extra)  # fmt: skip
            children.append(peer)
            peer.expect("ready")
            node_cpu = process_cpu(node.pid)
            peer.send("go")
            event = peer.expect("caught_up", self.args.timeout)
            node_cpu = process_cpu(node.pid) - node_cpu
            result = {"seconds": event["t"] - event["start"], "cpu": event["cpu"],
                      "answering_cpu": node_cpu,
                      "received_by_sync_receive": event["received"]}  # fmt: skip
            if commits:
                result["commit_seconds"] = peer.expect("commit")["seconds"]
                result["commit_yielding_seconds"] = peer.expect("commit_yielding")[
                    "seconds"
                ]
        finally:
            close_all(children)
            node.terminate()
            node.wait(timeout=60)
        return result

    def start_node(self) -> tuple[subprocess.Popen[bytes], int]:
        """The answering node, serving; a port taken meanwhile is tried again."""
        cert, key = self.pki.certs["server"]
        for attempt in range(3):
            port = free_port()
            log = self.work / f"node-{self.rounds}-{attempt}.log"
            with log.open("wb") as out:
                node = subprocess.Popen(
                    [*node_command(self.server_url, self.profile("node")), "serve",
                     "--cert", str(cert),
                     "--key", str(key), "--ca", str(self.pki.ca), "--listen",
                     f"127.0.0.1:{port}", "--poll", "0.2"],
                    stdout=out, stderr=out, env=node_env(),
                )  # fmt: skip
            try:
                wait_listening(port, node, log)
            except NodeExited:
                if attempt == 2:
                    raise
                continue
            return node, port
        raise AssertionError("unreachable")

    def floor(self) -> dict[str, Any]:
        """One floor run: Core read + frames in one process, decode + insert in another."""
        sender = self.child("floor-sender", "floor-sender", db=self.server_url)
        children = [sender]
        try:
            port = sender.expect("ready")["port"]
            receiver = self.child(
                "floor-receiver", "floor-receiver", "--port", str(port)
            )
            children.append(receiver)
            receiver.expect("ready")
            receiver.send("go")
            event = receiver.expect("done", self.args.timeout)
            if event["rows"] != self.args.rows:
                raise RuntimeError(f"the floor stored {event['rows']} rows")
        finally:
            close_all(children)
        return {"seconds": event["t"] - event["start"], "cpu": event["cpu"]}

    def profile(self, name: str) -> Path | None:
        """Where a process's cProfile stats go (None: not profiling)."""
        if self.profile_dir is None:
            return None
        return self.profile_dir / f"{self.backend}-{name}.prof"

    def child(self, name: str, role: str, *extra: str, db: str | None = None) -> Child:
        node = "server" if role == "floor-sender" else "peer"
        url = db or self.dbs.url(role.replace("-", "_"))
        argv = [NODES, role, "--db", url, *self.pki.args(node), "--rows",
                str(self.args.rows), "--timeout", str(self.args.timeout), *extra]  # fmt: skip
        log = self.work / f"{name}-{self.dbs.made}.log"
        if (path := self.profile(name)) is not None:
            argv += ["--profile", str(path)]
        return Child(name, argv, log)


def bench(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    """Alternating catch-up and floor runs on one backend, then the commit floods."""
    with tempfile.TemporaryDirectory() as tmp:
        run = Run(backend, Path(tmp), args)
        try:
            one_n, one_floor = measure_floor(run.server_url, run.dbs.url("floor1"))
            lib, floor = [], []
            for r in range(args.repeat):
                # The floor first: the last catch-up's commit floods add rows.
                floor.append(run.floor())
                last = r == args.repeat - 1
                lib.append(run.catchup(commits=last and args.batches > 0))
            commit_floor = (measure_commit_floor(run.dbs.url("plain"), args.batches,
                            args.batch_size, args.rows) if args.batches else None)  # fmt: skip
        finally:
            run.dbs.close()
    return summarise(backend, args, lib, floor, one_n / one_floor, commit_floor)


def summarise(backend: str, args: argparse.Namespace, lib: list[dict[str, Any]],
              floor: list[dict[str, Any]], one_floor: float,
              commit_floor: float | None) -> dict[str, Any]:  # fmt: skip
    n = args.rows
    lib_rate = best_median([n / r["seconds"] for r in lib])
    floor_rate = best_median([n / r["seconds"] for r in floor])
    result: dict[str, Any] = {
        "backend": backend,
        "rows": n,
        "repeat": args.repeat,
        "catchup_rows_per_s": lib_rate,
        "floor_rows_per_s": floor_rate,
        "catchup_vs_floor": {
            "best_over_best": lib_rate["best"] / floor_rate["best"],
            "median_over_median": lib_rate["median"] / floor_rate["median"],
        },
        "floor_one_process_rows_per_s": one_floor,
        # CPU microseconds per row of each process (medians): where the time goes
        "cpu_us_per_row": {
            "receiving": median_us(n, [r["cpu"] for r in lib]),
            "answering": median_us(n, [r["answering_cpu"] for r in lib]),
            "floor_receiving": median_us(n, [r["cpu"] for r in floor]),
        },
        "target_ratio": 0.33,
        "runs": {"catchup": lib, "floor": floor},
        "load_after": load_note(),
        "python": sys.version.split()[0],
        "sqlalchemy": sa.__version__,
    }
    last = lib[-1]
    if commit_floor is not None and "commit_seconds" in last:
        committed = args.batches * args.batch_size
        result.update({
            "commit_rows": committed,
            "commit_batch": args.batch_size,
            "commit_floor_rows_per_s": committed / commit_floor,
            "commit_rows_per_s": committed / last["commit_seconds"],
            "commit_vs_floor": commit_floor / last["commit_seconds"],
            "commit_yielding_rows_per_s": committed / last["commit_yielding_seconds"],
            "commit_yielding_vs_floor": commit_floor / last["commit_yielding_seconds"],
        })  # fmt: skip
    return result


def median_us(rows: int, seconds: list[float]) -> float:
    """The median of ``seconds`` per row, in microseconds."""
    return statistics.median(seconds) / rows * 1e6


def print_result(r: dict[str, Any]) -> None:
    lib, floor, ratio = (
        r["catchup_rows_per_s"],
        r["floor_rows_per_s"],
        r["catchup_vs_floor"],
    )
    print(f"{r['backend']}: catch-up of {r['rows']:,} rows, {r['repeat']} alternating runs; "
          f"{r['load_after']}")  # fmt: skip
    print(
        f"  catch-up, two processes    best {lib['best']:>9,.0f} rows/s  "
        f"median {lib['median']:>9,.0f}"
    )
    print(
        f"  floor, two processes       best {floor['best']:>9,.0f} rows/s  "
        f"median {floor['median']:>9,.0f}"
    )
    print(
        f"  catch-up / floor           best {ratio['best_over_best']:.2f}  median "
        f"{ratio['median_over_median']:.2f}  (target >= 0.33)"
    )
    print(
        f"  floor, one process         {r['floor_one_process_rows_per_s']:>14,.0f} rows/s"
    )
    cpu = r["cpu_us_per_row"]
    print(
        f"  CPU per row (us, median)   receiving {cpu['receiving']:.1f}  answering "
        f"{cpu['answering']:.1f}  floor receiving {cpu['floor_receiving']:.1f}"
    )
    if "commit_rows" in r:
        print(
            f"  commit flood               {r['commit_rows_per_s']:>14,.0f} rows/s  "
            f"floor {r['commit_floor_rows_per_s']:,.0f}  ratio {r['commit_vs_floor']:.2f}"
        )
        print(
            f"  commit flood, yielding     {r['commit_yielding_rows_per_s']:>14,.0f} "
            f"rows/s  ratio {r['commit_yielding_vs_floor']:.2f}"
        )


def profile(args: argparse.Namespace, backend: str) -> None:
    """One catch-up with both node processes under cProfile; print where time goes."""
    args.profile.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        run = Run(backend, Path(tmp), args)
        run.profile_dir = args.profile
        try:
            run.catchup(commits=False)
        finally:
            run.dbs.close()
    for name in ("node", "peer"):
        path = run.profile(name)
        print(f"wrote {path}; read it with: python -m pstats {path}")
        pstats.Stats(str(path)).sort_stats("tottime").print_stats(15)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--backend", choices=("sqlite", "postgres", "both"), default="both"
    )
    parser.add_argument("--repeat", type=int, default=5, help="alternating runs")
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--quick", action="store_true",
                        help="smallest mode: 2,000 rows, 1 run, 2 batches of 200")  # fmt: skip
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="only profile one catch-up per backend: cProfile stats "
                        "of the answering node and the receiving node in DIR")  # fmt: skip
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.repeat, args.batches, args.batch_size = 2000, 1, 2, 200
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    for backend in backends:
        if args.profile:
            profile(args, backend)
            continue
        result = bench(backend, args)
        print_result(result)
        write_json(args.out_dir / f"catchup-{backend}.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
