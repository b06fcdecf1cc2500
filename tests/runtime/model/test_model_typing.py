"""The typing contract of sync_property / no_sync_property, checked with mypy --strict."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

PROBE = Path(__file__).with_name("typing_probe.py")


def test_typing_probe_passes_mypy_strict(tmp_path: Path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / "cache"),
            str(PROBE),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_typing_probe_runs():
    # The probe is also real code: the classes it declares behave at runtime.
    spec = importlib.util.spec_from_file_location("typing_probe", PROBE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["typing_probe"] = module
    try:
        spec.loader.exec_module(module)
        p = module.Point.sync_construct({"y": 2.5})
        p.x = 1
        p.tag = 5
        # label wraps the default None (sent as null); "when" was never set (omitted)
        assert p.to_sync() == {"x": 1, "y": 2.5, "label": None, "tag": "5"}
        assert "sides" not in module.Triangle._sync_properties
    finally:
        del sys.modules["typing_probe"]
