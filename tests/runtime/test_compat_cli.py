"""``entanglement-pki`` and ``entanglement-cli``, the original's commands, run from the venv.

The console scripts are looked up beside the running interpreter (the installed venv),
so these tests fail when the scripts are not installed.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from entanglement._hashes import certhash_from_file

BIN = Path(sys.executable).parent


def script(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = BIN / name
    if not exe.exists():
        pytest.fail(f"{exe} is not installed (pip install -e . installs it)")
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, cwd=cwd, timeout=60
    )


def test_pki_creates_ca_issues_and_hashes(tmp_path: Path) -> None:
    pki_dir = tmp_path / "pki"
    made = script(
        "entanglement-pki", "-d", str(pki_dir), "--ca-name", "Site CA",
        "--subj", "/O=compat", "--prefix", "n1", "127.0.0.1", cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    cert = pki_dir / "n1_127.0.0.1.pem"
    assert cert.exists()
    assert (pki_dir / "n1_127.0.0.1.key").exists()
    assert (pki_dir / "ca.pem").exists()
    hashed = script("entanglement-pki", "--hash", str(cert), cwd=tmp_path)
    assert hashed.returncode == 0, hashed.stderr
    assert hashed.stdout.strip() == f"{cert}: {certhash_from_file(cert)}"
    missing = script(
        "entanglement-pki", "--hash", str(tmp_path / "no.pem"), cwd=tmp_path
    )
    assert missing.returncode == 2
    assert "Traceback" not in missing.stderr
    assert "no.pem" in missing.stderr


def test_cli_add_list_remove_destinations(tmp_path: Path, pki: object) -> None:
    db = f"sqlite:///{tmp_path / 'node.db'}"
    peer = str(pki.nodes["b"].hash)  # type: ignore[attr-defined]
    added = script(
        "entanglement-cli", "--db", db, "--add-destination", "--cert-hash", peer,
        "--host", "127.0.0.1", "--port", "9555", cwd=tmp_path,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    listed = script("entanglement-cli", "--db", db, "--list-destinations", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert peer in listed.stdout
    assert "127.0.0.1" in listed.stdout
    removed = script(
        "entanglement-cli", "--db", db, "--remove-destination", "--dest_hash", peer,
        cwd=tmp_path,
    )  # fmt: skip
    assert removed.returncode == 0, removed.stderr
    listed = script("entanglement-cli", "--db", db, "--list-destinations", cwd=tmp_path)
    assert peer not in listed.stdout


def test_cli_refuses_incomplete_modes(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'node.db'}"
    no_hash = script("entanglement-cli", "--db", db, "--add-destination", cwd=tmp_path)
    assert no_hash.returncode == 2
    assert "--cert-hash" in no_hash.stderr
    no_cert = script("entanglement-cli", "--db", db, "--server", cwd=tmp_path)
    assert no_cert.returncode == 2
    assert "--server requires --cert, --key, --ca" in no_cert.stderr
    two_modes = script(
        "entanglement-cli", "--db", db, "--server", "--list-destinations", cwd=tmp_path
    )
    assert two_modes.returncode == 2
    for result in (no_hash, no_cert, two_modes):
        assert "Traceback" not in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_cli_server_listens_and_stops_cleanly(tmp_path: Path, pki: object) -> None:
    node = pki.nodes["a"]  # type: ignore[attr-defined]
    port = _free_port()
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [str(BIN / "entanglement-cli"), "--db", f"sqlite:///{tmp_path / 'n.db'}",
         "--server", "--cert", str(node.cert), "--key", str(node.key),
         "--ca", str(node.cafile), "--port", str(port)],
        stdout=log, stderr=log, cwd=tmp_path, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "server.log").read_text()
                assert time.monotonic() < deadline, "server never listened"
                time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    assert "Traceback" not in (tmp_path / "server.log").read_text()
