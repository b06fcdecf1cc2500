"""mypy --strict accepts the typed declarative spelling and infers the model types."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("typing") / "sql_typing_probe.py"


def test_typing_probe_passes_mypy_strict() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", str(PROBE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_typing_probe_runs() -> None:
    # the probe module is real code: importing it maps the classes
    result = subprocess.run(
        [sys.executable, "-c", f"import runpy; runpy.run_path({str(PROBE)!r})"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
