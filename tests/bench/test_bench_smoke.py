"""The benchmarks cannot rot: each script runs in its smallest mode (``--quick``).

Each runs as users run it (``python bench/<script>.py --quick``), starting its real
node processes over TLS on 127.0.0.1 (and SQLite files, PostgreSQL schemas), and must
exit 0 and write its JSON.  No figure is asserted against a speed (benchmarks report
speed; tests do not time anything); what is asserted is what the scripts promise
regardless of speed: every object arrived, the coalescing of updates made with no
yield, the frame counts of a tree.
"""

from __future__ import annotations

import json
import os
import pstats
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def run_bench(script: str, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), "--quick", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, **(env or {})},
    )
    assert (
        proc.returncode == 0
    ), f"{script} failed:\n{proc.stdout}\n{proc.stderr[-4000:]}"
    return proc.stdout


def load(path: Path) -> Any:
    return json.loads(path.read_text())


@pytest.mark.slow
def test_throughput_quick(tmp_path: Path) -> None:
    out = tmp_path / "throughput.json"
    stdout = run_bench("throughput.py", "--out", str(out))
    result = load(out)
    assert "two processes, application / its floor" in stdout
    assert set(result["rates"]) == {
        "two_process_app", "two_process_floor", "two_process_no_hooks",
        "one_process_app", "one_process_no_hooks", "one_process_floor",
        "app_hooks_alone",
    }  # fmt: skip
    assert "the application's hooks alone, no runtime (CPU) / its floor" in stdout
    for rate in result["rates"].values():
        assert rate["runs"] == 1
        assert rate["best"] > 0
    # The protocol's promise: updates made with no yield go out as one frame.
    assert result["coalescing"]["frames_no_yield"] == 1
    assert 1 <= result["coalescing"]["frames_yield_every_100"] <= 2000 // 100 + 1
    latency = result["latency"]
    assert latency["rounds"] == 50
    assert (
        latency["two_process_p50_ms"]["best"] <= latency["two_process_p99_ms"]["best"]
    )
    assert latency["one_process_p50_ms"] <= latency["one_process_p99_ms"]


def check_catchup(result: dict[str, Any], backend: str) -> None:
    assert result["backend"] == backend
    assert result["rows"] == 2000
    [run] = result["runs"]["catchup"]
    # The application's sync_receive override saw every row of the catch-up.
    assert run["received_by_sync_receive"] >= 2000
    assert result["catchup_rows_per_s"]["best"] > 0
    assert result["floor_rows_per_s"]["best"] > 0
    assert result["commit_rows"] == 400
    assert result["commit_rows_per_s"] > 0


@pytest.mark.slow
def test_catchup_quick_sqlite(tmp_path: Path) -> None:
    run_bench("catchup.py", "--backend", "sqlite", "--out-dir", str(tmp_path))
    check_catchup(load(tmp_path / "catchup-sqlite.json"), "sqlite")


@pytest.mark.slow
@pytest.mark.postgres
def test_catchup_quick_postgres(tmp_path: Path, postgres_available: str) -> None:
    run_bench("catchup.py", "--backend", "postgres", "--out-dir", str(tmp_path),
              env={"ENTANGLEGEN_POSTGRES_URL": postgres_available})  # fmt: skip
    check_catchup(load(tmp_path / "catchup-postgres.json"), "postgres")


@pytest.mark.slow
def test_topology_quick(tmp_path: Path) -> None:
    out = tmp_path / "topology.json"
    run_bench("topology.py", "--out", str(out))
    results = {(r["shape"], r["nodes"]): r for r in load(out)["results"]}
    assert set(results) == {("pair", 2), ("tree", 4), ("ring+chords", 4)}
    for r in results.values():
        assert r["objects"] == 500
        assert r["first_error"] is None
        if r["frames_per_object"] is not None:
            # Every node but the leaf needs each object once; cycles cost more.
            assert r["frames_per_object"] >= r["nodes"] - 1
    # A tree has no cycle: no copy arrives from a wrong direction.
    assert results[("tree", 4)]["warnings"] == 0


def test_throughput_profile(tmp_path: Path) -> None:
    # --profile writes each node's cProfile stats, readable by pstats, naming the
    # runtime's receive pipeline (the receiving node did process the objects).
    stdout = run_bench("throughput.py", "--profile", str(tmp_path))
    assert "wrote" in stdout
    receiver = pstats.Stats(str(tmp_path / "receiver.prof"))
    files = {path for path, _, _ in receiver.stats}  # type: ignore[attr-defined]
    assert any("entanglement" in path for path in files)
    assert (tmp_path / "sender.prof").stat().st_size > 0
