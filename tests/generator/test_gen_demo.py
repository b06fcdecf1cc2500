"""``entanglegen demo`` runs end to end: two nodes over TLS converge, policy holds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gen_helpers import ROOT


def test_demo_converges(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "entanglegen",
            "demo",
            "--dir",
            str(tmp_path),
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "blue-field went offline" in out
    assert "converged after" in out
    final = out.rsplit("reconnected", 1)[1]
    blue_part = final.split("blue-field (online)", 1)[1].split("converged after", 1)[0]
    assert "need VPN creds" in blue_part  # made offline on blue, kept
    assert "compromised on hv1" in blue_part  # made by staff while blue was offline
    assert "    red " not in blue_part  # no row of the red side
    assert (tmp_path / "staff-hq.sqlite").exists()
    assert (tmp_path / "blue-field.sqlite").exists()


def test_demo_times_out_with_a_message(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "entanglegen",
            "demo",
            "--dir",
            str(tmp_path),
            "--timeout",
            "0.01",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "did not converge within" in result.stderr
    assert "Traceback" not in result.stderr
