"""Throughput, latency and coalescing of the runtime over TLS on loopback, one node per process.

Run: ``.venv/bin/python bench/throughput.py [--n 50000] [--repeat 5] [--quick]``.  Prints
a table and writes ``bench/results/throughput.json``.

What is measured (issue 12 item 3): two nodes, each in its own process as users deploy
them (``bench/_tp_nodes.py``), the application of ``bench/_app.py`` (its registry
overrides ``sync_receive`` and calls super, its class defines ``__init__`` and
``sync_construct``):

* ``two processes, application``: N small objects (``{"id", "color", "size",
  "_sync_owner"}``) synchronised from a ``SyncServer`` process to a ``SyncManager``
  process over TLS; from the sender's first ``synchronize`` until the receiver's
  registry stored the last one (the two processes stamp one machine-wide clock).
  Destinations get ``bw_per_sec`` = 10 GB/s so the limiter does not throttle.
* ``two processes, floor``: the same traffic with no library code, in two processes: a
  bare asyncio TLS sender that ``json.dumps`` + frames the same dicts (same keys, same
  order, hence the same frame bytes) into 256 KiB writes with ``drain``, and a
  receiver that splits the frames and ``json.loads`` each one; from the sender's first
  ``json.dumps`` until the receiver decoded the last one.
* context rows: the same in two processes with the *no-hook* application (no
  ``sync_receive`` override), and both nodes in one process and one event loop (the
  previous benchmark's set-up) with either application, against a one-process floor.
* ``the application's hooks alone`` (the ceiling): no runtime and no network, the least
  any implementation of the spec's hook calls runs per object of this application (see
  ``bench/_tp_nodes.py``, role ``hooks-alone``), in CPU seconds, against the two-process
  floor: the ratio a runtime adding nothing at all to the receiving side would reach
  (its "by cpu" figure compares one process's CPU with the floor's two: read it as
  context only).
* ``by cpu time``: CPU seconds of both processes (the receiver from its connection, the
  sender from its first object) compared instead of wall time.
* ``latency``: round trip of a response future in two processes: a ``forward`` with
  ``response=True`` to the owner, answered by its ``sync`` flood; p50/p99 over
  ``--rounds`` sequential requests, ``--latency-runs`` runs (best and median; target
  p99 ≤ 1 ms), and one run with both nodes in one process for context.  On a shared
  machine whose load exceeds its cores, the p99 of two processes is the scheduler's
  (each round trip wakes two processes), hence the load printed beside it.
* ``coalescing``: ``--updates`` (20,000) updates of one object with no yield to the
  event loop (the protocol's promise: only the last is sent, target 1 frame), then as
  many of another yielding every 100; frames counted by the receiver.

Fairness: runs alternate (application, floor, no-hook, one-process ...) ``--repeat``
times (at least 5 for the reported figures) and each row gives its best and its
median, so a busy moment of a shared machine does not favour one side; ratios are of
figures measured in the same run.  Every process is started before its clock starts
(start-up, imports and the TLS handshake are outside every figure).  The frame count
of a run is the receiver's count of objects, as the library sends one object per frame.
"""

from __future__ import annotations

import argparse
import pstats
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import (
    HERE,
    Child,
    Pki,
    best_median,
    close_all,
    load_note,
    print_table,
    write_json,
)

NODES = str(HERE / "_tp_nodes.py")
RESULTS = HERE / "results" / "throughput.json"


class Bench:
    """Starts the benchmark's processes in one work directory."""

    def __init__(self, work: Path, args: argparse.Namespace) -> None:
        self.work, self.args = work, args
        self.pki = Pki(work / "pki", ["s", "c"])
        self.started = 0
        self.profile_dir: Path | None = None

    def child(self, name: str, role: str, node: str, *extra: str) -> Child:
        self.started += 1
        log = self.work / f"{self.started:03d}-{name}.log"
        argv = [NODES, role, *self.pki.args(node), "--n", str(self.args.n), *extra]
        if self.profile_dir is not None:
            argv += ["--profile", str(self.profile_dir / f"{name}.prof")]
        return Child(name, argv, log)

    def pair(self, roles: tuple[str, str], *extra: str) -> dict[str, dict[str, Any]]:
        """Run a sender and a receiver process; every event each reported, by name."""
        sender = self.child("sender", roles[0], "s", "--peer-hash", self.pki.hashes["c"],
                            *extra)  # fmt: skip
        children = [sender]
        events: dict[str, dict[str, Any]] = {}
        try:
            port = sender.expect("ready")["port"]
            receiver = self.child("receiver", roles[1], "c", "--peer-hash",
                                  self.pki.hashes["s"], "--port", str(port), *extra)  # fmt: skip
            children.append(receiver)
            final = receiver.next_event(self.args.timeout)
            events[final["event"]] = final
            sender.proc.stdin.close()  # type: ignore[union-attr]
            while "cpu" not in events:
                event = sender.next_event(self.args.timeout)
                events[event["event"]] = event
        finally:
            close_all(children)
        return events

    def two_process(self, hooks: str) -> dict[str, float]:
        events = self.pair(("sender", "receiver"), "--hooks", hooks)
        return _figures(self.args.n, events["done"]["t"] - events["start"]["t"],
                        events["done"]["cpu"] + events["cpu"]["cpu"])  # fmt: skip

    def floor(self) -> dict[str, float]:
        events = self.pair(("floor-sender", "floor-receiver"))
        return _figures(self.args.n, events["done"]["t"] - events["start"]["t"],
                        events["done"]["cpu"] + events["cpu"]["cpu"])  # fmt: skip

    def one_process(self, role: str, *extra: str) -> dict[str, float]:
        result = self.one_process_events(*extra, role=role)
        return _figures(self.args.n, result["seconds"], result["cpu"])

    def one_process_events(
        self, *extra: str, role: str = "one-process"
    ) -> dict[str, Any]:
        """Run a one-process child; its one event (``result`` or ``latency``)."""
        cert2, key2 = self.pki.certs["c"]
        child = self.child(role, role, "s", "--peer-hash", self.pki.hashes["c"],
                           "--cert2", str(cert2), "--key2", str(key2), *extra)  # fmt: skip
        try:
            event = child.next_event(self.args.timeout)
        finally:
            close_all([child])
        return event


def _figures(n: int, seconds: float, cpu: float) -> dict[str, float]:
    return {"objects": n, "seconds": seconds, "objects_per_s": n / seconds,
            "cpu_seconds": cpu}  # fmt: skip


VARIANTS: dict[str, Callable[[Bench], dict[str, float]]] = {
    "two_process_app": lambda b: b.two_process("app"),
    "two_process_floor": Bench.floor,
    "two_process_no_hooks": lambda b: b.two_process("base"),
    "one_process_app": lambda b: b.one_process("one-process", "--hooks", "app"),
    "one_process_no_hooks": lambda b: b.one_process("one-process", "--hooks", "base"),
    "one_process_floor": lambda b: b.one_process("one-process-floor"),
    "app_hooks_alone": lambda b: b.one_process("hooks-alone"),
}
LABELS = {
    "two_process_app": "two processes, application",
    "two_process_floor": "two processes, floor (TLS + json)",
    "two_process_no_hooks": "two processes, no-hook application",
    "one_process_app": "one process, application",
    "one_process_no_hooks": "one process, no-hook application",
    "one_process_floor": "one process, floor (TLS + json)",
    "app_hooks_alone": "the application's hooks alone, no runtime (CPU)",
}
RATIOS = {  # name: (library variant, floor variant)
    "two_process_app": ("two_process_app", "two_process_floor"),
    "two_process_no_hooks": ("two_process_no_hooks", "two_process_floor"),
    "one_process_app": ("one_process_app", "one_process_floor"),
    "one_process_no_hooks": ("one_process_no_hooks", "one_process_floor"),
    # The ceiling: what a runtime adding nothing to the hooks would reach.
    "app_hooks_alone": ("app_hooks_alone", "two_process_floor"),
}


def measure(bench: Bench) -> dict[str, Any]:
    """Alternating runs of every variant, then the latency and coalescing runs."""
    args = bench.args
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
    latency: list[dict[str, Any]] = []
    for r in range(args.repeat):
        for name, variant in VARIANTS.items():
            runs[name].append(variant(bench))
        if r < args.latency_runs:
            latency.append(bench.pair(("sender", "receiver"), "--scenario", "latency",
                           "--rounds", str(args.rounds))["latency"])  # fmt: skip
    one = bench.one_process_events(
        "--scenario", "latency", "--rounds", str(args.rounds)
    )
    coalescing = bench.pair(("sender", "receiver"), "--scenario", "coalesce",
                            "--n", str(args.updates))  # fmt: skip
    return {"runs": runs, "latency": latency, "latency_one_process": one,
            "coalescing": coalescing}  # fmt: skip


def summarise(updates: int, measured: dict[str, Any]) -> dict[str, Any]:
    """Best and median per variant, ratios of the same run's figures."""
    runs = measured["runs"]
    rates = {k: best_median([r["objects_per_s"] for r in v]) for k, v in runs.items()}
    ratios = {}
    for name, (lib, floor) in RATIOS.items():
        per_run = [a["objects_per_s"] / b["objects_per_s"]
                   for a, b in zip(runs[lib], runs[floor], strict=True)]  # fmt: skip
        cpu = [b["cpu_seconds"] / a["cpu_seconds"]
               for a, b in zip(runs[lib], runs[floor], strict=True)]  # fmt: skip
        ratios[name] = {
            "best_over_best": rates[lib]["best"] / rates[floor]["best"],
            "median_over_median": rates[lib]["median"] / rates[floor]["median"],
            "median_of_run_ratios": statistics.median(per_run),
            "median_by_cpu_time": statistics.median(cpu),
        }
    co = measured["coalescing"]
    coalescing = {
        "updates": updates,
        "frames_no_yield": co["coalesced"]["frames"],
        "seconds_to_final_no_yield": co["coalesced"]["t"] - co["start"]["t"],
        "frames_yield_every_100": co["coalesced"]["frames_yielding"],
        "seconds_to_final_yielding": co["coalesced"]["t_yielding"]
        - co["start_yielding"]["t"],
    }
    lat = measured["latency"]
    latency = {
        "rounds": lat[0]["rounds"],
        "two_process_p50_ms": best_median(
            [x["p50_ms"] for x in lat], higher_is_better=False
        ),
        "two_process_p99_ms": best_median(
            [x["p99_ms"] for x in lat], higher_is_better=False
        ),
        "one_process_p50_ms": measured["latency_one_process"]["p50_ms"],
        "one_process_p99_ms": measured["latency_one_process"]["p99_ms"],
    }
    return {
        "rates": rates,
        "ratios": ratios,
        "coalescing": coalescing,
        "latency": latency,
    }


def rows_of(summary: dict[str, Any]) -> list[Any]:
    rows = []
    for name, label in LABELS.items():
        rate = summary["rates"][name]
        rows.append((label, f"{rate['best']:,.0f} obj/s",
                     f"median {rate['median']:,.0f} of {rate['runs']}"))  # fmt: skip
    for name, ratio in summary["ratios"].items():
        target = {"two_process_app": "target >= 0.50",
                  "app_hooks_alone": "ceiling"}.get(name, "context")  # fmt: skip
        rows.append((f"{LABELS[name]} / its floor",
                     f"{ratio['best_over_best']:.2f} best",
                     f"median {ratio['median_over_median']:.2f}, by cpu "
                     f"{ratio['median_by_cpu_time']:.2f}; {target}"))  # fmt: skip
    co, lat = summary["coalescing"], summary["latency"]
    p50, p99 = lat["two_process_p50_ms"], lat["two_process_p99_ms"]
    rows += [
        ("response round trip p50, two processes", f"{p50['best']:.3f} ms",
         f"median {p50['median']:.3f} of {p50['runs']} runs of {lat['rounds']} rounds"),
        ("response round trip p99, two processes", f"{p99['best']:.3f} ms",
         f"median {p99['median']:.3f}; target <= 1 ms"),
        ("response round trip p50 / p99, one process",
         f"{lat['one_process_p50_ms']:.3f} ms", f"p99 {lat['one_process_p99_ms']:.3f} ms"),
        (f"coalescing: frames for {co['updates']:,} updates, no yield",
         f"{co['frames_no_yield']}",
         f"target 1; final value after {co['seconds_to_final_no_yield']:.3f} s"),
        (f"coalescing: frames for {co['updates']:,} updates, yield/100",
         f"{co['frames_yield_every_100']}",
         f"final value after {co['seconds_to_final_yielding']:.3f} s"),
    ]  # fmt: skip
    return rows


def profile(args: argparse.Namespace) -> int:
    """One two-process run of the application with each node under cProfile."""
    args.profile.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp), args)
        bench.profile_dir = args.profile
        bench.two_process("app")
    for role in ("sender", "receiver"):
        path = args.profile / f"{role}.prof"
        print(f"wrote {path}; read it with: python -m pstats {path}")
        pstats.Stats(str(path)).sort_stats("cumulative").print_stats(15)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000, help="objects per run")
    parser.add_argument("--repeat", type=int, default=5, help="alternating runs")
    parser.add_argument("--rounds", type=int, default=1000, help="latency requests")
    parser.add_argument("--latency-runs", type=int, default=3)
    parser.add_argument("--updates", type=int, default=20_000, help="coalescing")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--quick", action="store_true",
                        help="smallest mode: 2,000 objects, 1 run, 50 rounds, "
                        "2,000 updates")  # fmt: skip
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="only profile one two-process run of the application: "
                        "cProfile stats of each node in DIR, no figures")  # fmt: skip
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.repeat, args.rounds, args.updates = 2000, 1, 50, 2000
    if args.profile:
        return profile(args)
    load_before = load_note()
    with tempfile.TemporaryDirectory() as tmp:
        measured = measure(Bench(Path(tmp), args))
    summary = summarise(args.updates, measured)
    print_table(f"throughput of {args.n:,} objects, {args.repeat} alternating runs "
                f"(best, median); {load_before}", rows_of(summary))  # fmt: skip
    ratio = summary["ratios"]["two_process_app"]
    result = {
        "n": args.n,
        "repeat": args.repeat,
        "python": sys.version.split()[0],
        "load_before": load_before,
        "load_after": load_note(),
        **summary,
        "target_ratio": 0.5,
        "target_met": ratio["median_over_median"] >= 0.5,
        "runs": measured["runs"],
        "latency_runs": measured["latency"],
    }
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
