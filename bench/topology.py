"""Scale past two nodes: 16 and 32 node processes as a tree and as a ring with chords.

Run: ``.venv/bin/python bench/topology.py [--n 10000] [--sizes 16 32] [--quick]``.
Prints a table and writes ``bench/results/topology.json``.

Every node is its own process (``bench/_topo_node.py``: a ``SyncServer`` with the
application of ``bench/_app.py``) on this one machine, linked by mutual TLS on
127.0.0.1; one leaf owns ``--n`` objects and synchronises them once, and every other
node stores them from its neighbours' floods (the ``sync`` operation floods what it
accepted to every other neighbour).  Shapes, for N nodes:

* ``pair``: two nodes, one link (the baseline the others are set beside);
* ``tree``: a binary tree (node i's parent is (i-1)//2), N-1 links, flooded from the
  last node, a deepest leaf;
* ``ring+chords``: a ring (i, i+1 mod N) and chords (i, i+N/2) for every even
  i < N/2: N + N/4 links, flooded from node 1 (it has two links).

Reported per shape: time to converge (from the leaf's first ``synchronize`` until the
last node stored the last object, on the machine-wide clock), objects per second
delivered over the whole graph ((N-1)·n stored / time), frames per object (frames sent
by all nodes / n; a tree needs N-1 per object, a graph with cycles more: every node
floods to all its neighbours but the sender, and a copy arriving from a neighbour that
is not the owner's direction is refused with an error reply, which is a frame too) and
the refusals counted (the JSON keeps the first warning's text: a refusal, or whatever
else was logged).  A shape's nodes are all started and linked before its clock
starts.  All N processes share the machine's cores, so the time to converge grows
with the total work of the graph, not only with its depth: the figures measure the
runtime's cost per delivered object on a crowded machine, not network latency.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import HERE, Child, Pki, close_all, load_note, print_table, write_json

NODE = str(HERE / "_topo_node.py")
RESULTS = HERE / "results" / "topology.json"


def tree(n: int) -> list[tuple[int, int]]:
    """A binary tree's links: each node to its parent."""
    return [((i - 1) // 2, i) for i in range(1, n)]


def ring_chords(n: int) -> list[tuple[int, int]]:
    """A ring and chords across it from every even node of its first half."""
    ring = [(i, (i + 1) % n) for i in range(n)]
    chords = [(i, i + n // 2) for i in range(0, n // 2, 2)]
    return sorted({(min(a, b), max(a, b)) for a, b in ring + chords})


Links = Callable[[int], list[tuple[int, int]]]
SHAPES: dict[str, tuple[Links, Callable[[int], int]]] = {
    "pair": (lambda n: [(0, 1)], lambda n: 1),
    "tree": (tree, lambda n: n - 1),
    "ring+chords": (ring_chords, lambda n: 1),
}


def run_shape(
    work: Path, shape: str, size: int, args: argparse.Namespace
) -> dict[str, Any]:
    """Start ``size`` nodes linked as ``shape``, flood from the leaf, measure."""
    links_of, leaf_of = SHAPES[shape]
    links, leaf = links_of(size), leaf_of(size)
    names = [f"n{i}" for i in range(size)]
    pki = Pki(work / f"pki-{shape}-{size}", names)
    logs = work / f"{shape}-{size}"
    logs.mkdir()
    nodes: list[Child] = []
    try:
        for name in names:
            argv = [NODE, *pki.args(name), "--n", str(args.n)]
            nodes.append(Child(name, argv, logs / f"{name}.log"))
        ports = [node.expect("ready", args.timeout)["port"] for node in nodes]
        for i, node in enumerate(nodes):
            mine = [{"hash": pki.hashes[names[b if a == i else a]],
                     "name": names[b if a == i else a],
                     "port": ports[b] if a == i else None}
                    for a, b in links if i in (a, b)]  # fmt: skip
            node.send("links", links=mine)
        for node in nodes:
            node.expect("connected", args.timeout)
        nodes[leaf].send("flood")
        start = nodes[leaf].expect("start", args.timeout)["t"]
        ends = [node.expect("done", args.timeout)["t"] for i, node in enumerate(nodes)
                if i != leaf]  # fmt: skip
        stats = settled_stats(nodes, args.timeout)
    finally:
        close_all(nodes)
    return figures(shape, size, len(links), args.n, max(ends) - start, stats)


def settled_stats(nodes: list[Child], timeout: float) -> list[dict[str, Any]]:
    """Every node's stats once the frame counts stop moving (refusals in flight)."""
    previous: list[dict[str, Any]] | None = None
    for _ in range(100):
        for node in nodes:
            node.send("report")
        stats = [node.expect("stats", timeout) for node in nodes]
        if stats == previous:
            return stats
        previous = stats
        time.sleep(0.2)
    return stats


def figures(shape: str, size: int, links: int, n: int, seconds: float,
            stats: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    sent = [s["sent"] for s in stats]
    frames = None if None in sent else sum(sent)
    stored = sum(s["stored"] for s in stats)
    errors = [s["error"] for s in stats if s["error"]]
    warnings = [s["first"] for s in stats if s["first"]]
    if stored != (size - 1) * n:
        raise RuntimeError(
            f"{shape} of {size}: {stored} objects stored, not {(size - 1) * n}"
        )
    return {
        "shape": shape,
        "nodes": size,
        "links": links,
        "objects": n,
        "seconds_to_converge": seconds,
        "delivered_per_s": (size - 1) * n / seconds,
        "frames_sent": frames,
        "frames_per_object": None if frames is None else frames / n,
        "warnings": sum(s["warnings"] for s in stats),
        "first_error": errors[0] if errors else None,
        "first_warning": warnings[0] if warnings else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="objects flooded")
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--quick", action="store_true",
                        help="smallest mode: 4 nodes, 500 objects")  # fmt: skip
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.sizes = 500, [4]
    load_before = load_note()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(run_shape(Path(tmp), "pair", 2, args))
        for size in args.sizes:
            for shape in ("tree", "ring+chords"):
                results.append(run_shape(Path(tmp), shape, size, args))
    rows = []
    for r in results:
        per_object = (
            "n/a" if r["frames_per_object"] is None else f"{r['frames_per_object']:.2f}"
        )
        rows.append((f"{r['shape']}, {r['nodes']} nodes, {r['links']} links",
                     f"{r['seconds_to_converge']:.2f} s",
                     f"{per_object} frames/object, {r['delivered_per_s']:,.0f} "
                     f"delivered/s, {r['warnings']:,} refusals logged"))  # fmt: skip
    print_table(f"flood of {args.n:,} objects from one leaf; {load_before}", rows)
    write_json(args.out, {"objects": args.n, "load_before": load_before,
                          "load_after": load_note(), "python": sys.version.split()[0],
                          "results": results})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
