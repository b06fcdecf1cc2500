"""Render the figures of bench/results/*.json as the Markdown table the README shows.

Run: ``.venv/bin/python bench/report.py`` after running the benchmarks; paste its output
into README.md's "Measured figures" section.  Keeping the rendering in code means the README
never shows a figure that no benchmark produced.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else None


def _bm(rate: dict[str, float], unit: str) -> str:
    return f"{rate['best']:,.0f} {unit} (median {rate['median']:,.0f})"


def _ratio(ratio: dict[str, float]) -> str:
    return f"{ratio['best_over_best']:.2f} (median {ratio['median_over_median']:.2f})"


def _throughput(d: dict[str, Any]) -> list[str]:
    rates, ratios = d["rates"], d["ratios"]
    lat, co = d["latency"], d["coalescing"]
    runs = f"best of {d['repeat']} alternating runs"
    rows = [
        f"| runtime: {d['n']:,} objects over TLS, two processes, application overriding "
        f"sync_receive ({runs}) | {_bm(rates['two_process_app'], 'obj/s')} "
        f"| two-process asyncio TLS + json: {_bm(rates['two_process_floor'], 'obj/s')} "
        f"| {_ratio(ratios['two_process_app'])} | ≥ 0.5 |",
        f"| runtime: the same, no-hook application (context) "
        f"| {_bm(rates['two_process_no_hooks'], 'obj/s')} | the same floor "
        f"| {_ratio(ratios['two_process_no_hooks'])} | |",
        f"| runtime: the same, both nodes in one process, application (context) "
        f"| {_bm(rates['one_process_app'], 'obj/s')} | one-process asyncio TLS + json: "
        f"{_bm(rates['one_process_floor'], 'obj/s')} "
        f"| {_ratio(ratios['one_process_app'])} | |",
        f"| runtime: one process, no-hook application (context) "
        f"| {_bm(rates['one_process_no_hooks'], 'obj/s')} | the same floor "
        f"| {_ratio(ratios['one_process_no_hooks'])} | |",
    ]
    if "app_hooks_alone" in rates:  # (results written before the ceiling row)
        rows.append(
            f"| ceiling: the application's hooks alone, no runtime, no network (CPU; "
            f"what a runtime adding nothing would reach) "
            f"| {_bm(rates['app_hooks_alone'], 'obj/s')} | the two-process floor "
            f"| {_ratio(ratios['app_hooks_alone'])} | |"
        )
    rows += [
        f"| runtime: response round trip, two processes (best of "
        f"{lat['two_process_p99_ms']['runs']} runs) | p50 "
        f"{lat['two_process_p50_ms']['best']:.2f} ms, p99 "
        f"{lat['two_process_p99_ms']['best']:.2f} ms (median "
        f"{lat['two_process_p99_ms']['median']:.2f}) | | | p99 ≤ 1 ms |",
        f"| runtime: response round trip, one process (context) | p50 "
        f"{lat['one_process_p50_ms']:.2f} ms, p99 {lat['one_process_p99_ms']:.2f} ms "
        f"| | | |",
        f"| runtime: {co['updates']:,} updates of one object, no yield "
        f"| {co['frames_no_yield']:,} frame(s) sent | | | 1 frame |",
        f"| runtime: {co['updates']:,} updates of one object, yielding every 100 "
        f"| {co['frames_yield_every_100']:,} frames sent | | | |",
    ]
    return rows


def _catchup(d: dict[str, Any]) -> list[str]:
    backend = d["backend"]
    rows = [
        f"| SQL catch-up, {d['rows']:,} rows, {backend}, two node processes, "
        f"application overriding sync_receive (best of {d['repeat']} alternating runs) | "
        f"{_bm(d['catchup_rows_per_s'], 'rows/s')} | Core read + JSON over TLS + "
        f"executemany, two processes: {_bm(d['floor_rows_per_s'], 'rows/s')} | "
        f"{_ratio(d['catchup_vs_floor'])} | ≥ 0.33 |",
    ]
    if "commit_rows" in d:
        rows.append(
            f"| SQL commit flood, {d['commit_batch']:,}-row batches, {backend} | "
            f"{d['commit_rows_per_s']:,.0f} rows/s | plain ORM commits into a table of "
            f"{d['rows']:,} rows: {d['commit_floor_rows_per_s']:,.0f} rows/s | "
            f"{d['commit_vs_floor']:.2f} | ≥ 0.33 |"
        )
    return rows


def _topology(d: dict[str, Any]) -> list[str]:
    rows = []
    for r in d["results"]:
        frames = r["frames_per_object"]
        per = "" if frames is None else f", {frames:.1f} frames/object"
        rows.append(
            f"| flood of {r['objects']:,} objects from a leaf: {r['shape']}, "
            f"{r['nodes']} node processes, {r['links']} links | converged in "
            f"{r['seconds_to_converge']:.2f} s{per} | | | |"
        )
    return rows


def _generate(d: dict[str, Any]) -> list[str]:
    size = f"{d['types']:,} types x {d['properties_per_type']} properties"
    return [
        f"| generator: cold build, {size}, one process | {d['cold_build_serial_s']:.1f} s "
        f"| black alone: {d['floor_black_s']:.1f} s | {d['cold_serial_over_floor']:.2f}x "
        f"| ≤ 2x |",
        f"| generator: cold build, {d['cpus']} processes | "
        f"{d['cold_build_parallel_s']:.1f} s | | {d['cold_parallel_over_floor']:.2f}x | |",
        f"| generator: no-op rebuild (CLI process) | {d['noop_rebuild_cli_process_s']:.2f} s "
        f"| | | < 1 s |",
    ]


def main() -> None:
    rows = [
        "| what | measured | floor (same run) | ratio | target |",
        "|---|---|---|---|---|",
    ]
    sources = [
        ("throughput.json", _throughput),
        ("catchup-sqlite.json", _catchup),
        ("catchup-postgres.json", _catchup),
        ("topology.json", _topology),
        ("generate.json", _generate),
    ]
    for name, render in sources:
        data = _load(name)
        if data is None:
            continue
        try:
            rows.extend(render(data))
        except (KeyError, TypeError):  # written by an older version of its benchmark
            print(f"skipped {RESULTS / name}: an older format; rerun its benchmark",
                  file=sys.stderr)  # fmt: skip
    print("\n".join(rows))


if __name__ == "__main__":
    main()
