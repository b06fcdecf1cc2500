"""Runs the Node side: ``tsc --strict --noEmit`` over every generated package, the
node:test suite against a live Python node, and a codec comparison with Python."""

from __future__ import annotations

import base64
import datetime
import json
import os
import subprocess
import sys
import uuid

import pytest
from ts_paths import GENERATED_TS, HERE, TSC, missing

from entanglement import generated_support as support
from entanglement.types import binary_encoder, datetime_encoder, uuid_encoder

PACKAGES = sorted(p.name for p in GENERATED_TS.iterdir() if p.is_dir())


@pytest.mark.parametrize("package", PACKAGES)
def test_tsc_strict_no_emit(node: str, package: str) -> None:
    done = subprocess.run(
        [node, str(TSC), "--strict", "--noEmit", "-p", str(GENERATED_TS / package)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_node_suite_against_python(node: str) -> None:
    env = {**os.environ, "ENTANGLEGEN_PYTHON": sys.executable}
    done = subprocess.run(
        [node, "--experimental-websocket", "--test", "client.test.mjs"],
        cwd=HERE,
        env=env,
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert "# fail 0" in done.stdout


SCRIPT = """
const codecs = await import(process.argv[1]);
const input = JSON.parse(process.argv[2]);
const out = {
  datetimes: input.datetimes.map((ms) => codecs.datetime.encode(new Date(ms))),
  parsed: input.python_datetimes.map((t) => codecs.datetime.decode(t, "t").getTime()),
  bytes: input.bytes.map((b) => codecs.bytes.encode(Uint8Array.from(b))),
  unbytes: input.python_bytes.map((t) => [...codecs.bytes.decode(t, "t")]),
  uuids: input.uuids.map((u) => codecs.uuid.encode(u)),
  dates: input.python_dates.map((t) => codecs.date.decode(t, "t")),
};
console.log(JSON.stringify(out));
"""


def test_codecs_write_what_python_writes(node: str) -> None:
    """The TypeScript codecs produce the Python encoders' text, and read it back."""
    compiled = HERE / "build" / "codecs-check"
    subprocess.run(
        [
            node,
            str(TSC),
            "-p",
            str(GENERATED_TS / PACKAGES[0]),
            "--outDir",
            str(compiled),
        ],
        check=True,
        timeout=120,
    )
    utc = datetime.UTC
    moments = [
        datetime.datetime(2024, 5, 1, 12, 0, 0, tzinfo=utc),
        datetime.datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=utc),
        datetime.datetime(1999, 12, 31, 23, 59, 59, 1000, tzinfo=utc),
    ]
    offset = datetime.timezone(datetime.timedelta(hours=-5, minutes=-30))
    python_texts = [
        *(datetime_encoder(m) for m in moments),
        datetime.datetime(2024, 5, 1, 6, 30, 0, 125000, tzinfo=offset).isoformat(),
        "2024-05-01T12:00:00",  # no offset: UTC, as the Python decoder reads it
    ]
    blobs = [b"", b"\x00", b"\x89PNG\r\n\x1a\n", bytes(range(256))]
    ids = [str(uuid.uuid4()).upper(), str(uuid.uuid4())]
    payload = {
        "datetimes": [_millis(m) for m in moments],
        "python_datetimes": python_texts,
        "bytes": [list(b) for b in blobs],
        "python_bytes": [binary_encoder(b) for b in blobs],
        "uuids": ids,
        "python_dates": [
            support.date_encoder(datetime.date(2024, 2, 29)),
            datetime_encoder(moments[0]),
        ],
    }
    done = subprocess.run(
        [
            node,
            "--input-type=module",
            "-e",
            SCRIPT,
            "--",
            str(compiled / "codecs.js"),
            json.dumps(payload),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    out = json.loads(done.stdout)
    assert out["datetimes"] == [datetime_encoder(m) for m in moments]
    expected_ms = [_millis(datetime.datetime.fromisoformat(t)) for t in python_texts]
    assert out["parsed"] == expected_ms
    assert out["bytes"] == [base64.b64encode(b).decode() for b in blobs]
    assert out["unbytes"] == [list(b) for b in blobs]
    assert out["uuids"] == [uuid_encoder(uuid.UUID(u)) for u in ids]
    assert out["dates"] == ["2024-02-29", "2024-05-01"]


def _millis(moment: datetime.datetime) -> int:
    """Milliseconds since 1970 (a value without an offset is UTC, as Python decodes)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    return (moment - epoch) // datetime.timedelta(milliseconds=1)


def test_browser_example_in_headless_chromium(node: str) -> None:
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not os.path.exists(chromium):
        missing(f"no Chromium at {chromium} (Debian: apt-get install chromium)")
    if not (HERE / "node_modules" / "playwright-core").exists():
        missing(f"playwright-core is not installed: run 'npm ci --prefix {HERE}'")
    env = {**os.environ, "ENTANGLEGEN_PYTHON": sys.executable, "CHROMIUM": chromium}
    done = subprocess.run(
        [node, "--experimental-websocket", "--test", "browser.test.mjs"],
        cwd=HERE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert "# pass 1" in done.stdout
