"""Render the figures of bench/results/*.json as the Markdown table the README shows.

Run: ``.venv/bin/python bench/report.py`` after running the benchmarks; paste its output
into README.md's "Measured figures" section.  Keeping the rendering in code means the README
never shows a figure that no benchmark produced.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else None


def _throughput(d: dict[str, Any]) -> list[str]:
    lib, floor = d["library"], d["floor_json"]
    lat, co = d["latency"], d["coalescing"]
    return [
        f"| runtime: {d['n']:,} objects over TLS | {lib['objects_per_s']:,.0f} obj/s "
        f"| bare asyncio TLS + json: {floor['objects_per_s']:,.0f} obj/s "
        f"| {d['ratio_to_floor_json']:.2f} | ≥ 0.5 |",
        f"| runtime: response round trip | p50 {lat['p50_ms']:.2f} ms, "
        f"p99 {lat['p99_ms']:.2f} ms | | | |",
        f"| runtime: {co['updates']:,} updates of one object | {co['frames_sent']:,} "
        f"frames sent, final value after {co['seconds_to_final']:.2f} s | | | |",
    ]


def _catchup(d: dict[str, Any]) -> list[str]:
    backend = d["backend"]
    return [
        f"| SQL catch-up, {d['rows']:,} rows, {backend} | "
        f"{d['catchup_rows_per_s']:,.0f} rows/s | Core read + bulk insert: "
        f"{d['floor_rows_per_s']:,.0f} rows/s | {d['catchup_vs_floor']:.2f} | ≥ 0.33 |",
        f"| SQL commit flood, {d['commit_batch']:,}-row batches, {backend} | "
        f"{d['commit_rows_per_s']:,.0f} rows/s | plain ORM commits into a table of "
        f"{d['rows']:,} rows: {d['commit_floor_rows_per_s']:,.0f} rows/s | "
        f"{d['commit_vs_floor']:.2f} | ≥ 0.33 |",
    ]


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
        ("generate.json", _generate),
    ]
    for name, render in sources:
        data = _load(name)
        if data is not None:
            rows.extend(render(data))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
