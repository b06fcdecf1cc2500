"""What the multi-process benchmarks share: certificates, child processes, one clock, stats.

A benchmark parent starts each node as its own process (``python bench/<script>.py
--role ROLE ...``, as users deploy one node per process) and talks to it over pipes:

* a child reports on stdout, one JSON object per line, each with an ``"event"`` key
  (``emit``); its logging goes to stderr, which the parent sends to a log file that is
  quoted when the child fails;
* the parent commands a child with one JSON line on its stdin (``Child.send``); the
  child reads them with ``commands()`` without blocking its event loop.

Times are taken with ``CLOCK_MONOTONIC`` (``now()``), which is one clock for every
process of the machine, so a start stamped by a sender and an end stamped by a
receiver subtract to a wall time (no child's start-up is inside it).  A benchmark that
fails (a child exits, a condition is not reached within its timeout) raises
``BenchError`` naming the child and the tail of its log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from entanglement.pki import cert_hash_text, gen_site_ca, host_cert

HERE = Path(__file__).resolve().parent


class BenchError(RuntimeError):
    """A benchmark could not complete (a child failed or timed out)."""


def now() -> float:
    """Seconds on the machine-wide monotonic clock (comparable across processes)."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def emit(event: str, **data: Any) -> None:
    """Report one event to the parent (a child's stdout line)."""
    sys.stdout.write(json.dumps({"event": event, **data}) + "\n")
    sys.stdout.flush()


async def commands() -> AsyncIterator[dict[str, Any]]:
    """The parent's commands on stdin, one JSON object per line, until EOF."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    try:
        while line := await reader.readline():
            yield json.loads(line)
    finally:
        transport.close()


class Pki:
    """A site CA and one certificate per node name, in ``directory``."""

    def __init__(self, directory: Path, names: Sequence[str]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.ca = gen_site_ca(directory, "Bench CA")
        self.certs: dict[str, tuple[Path, Path]] = {}
        self.hashes: dict[str, str] = {}
        for name in names:
            cert, key = host_cert(directory, "127.0.0.1", prefix=name)
            self.certs[name] = (cert, key)
            self.hashes[name] = cert_hash_text(cert)

    def args(self, name: str) -> list[str]:
        """Command-line arguments giving a child its certificate, key and the CA."""
        cert, key = self.certs[name]
        return ["--cert", str(cert), "--key", str(key), "--ca", str(self.ca)]


class Child:
    """One benchmark child process: JSON events from stdout, commands to stdin."""

    def __init__(self, name: str, argv: list[str], log: Path) -> None:
        self.name, self.log = name, log
        path = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path}
        with log.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, *argv],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                env=env,
                bufsize=0,
            )
        self._buffer = b""

    def send(self, command: str, **data: Any) -> None:
        """Write one command line to the child's stdin."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(
                (json.dumps({"cmd": command, **data}) + "\n").encode()
            )
        except BrokenPipeError:
            raise self._failure(f"exited before the command {command!r}") from None

    def expect(self, event: str, timeout: float = 120.0) -> dict[str, Any]:
        """Wait for the child's next event, which must be ``event``."""
        message = self.next_event(timeout)
        if message.get("event") != event:
            raise self._failure(f"sent {message!r} where {event!r} was expected")
        return message

    def next_event(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._failure(f"sent nothing for {timeout:.0f} s")
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    raise self._failure("exited")
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        result: dict[str, Any] = json.loads(line)
        return result

    def _failure(self, what: str) -> BenchError:
        self.proc.poll()
        tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
        return BenchError(
            f"{self.name} {what} (exit status {self.proc.returncode}); its log "
            f"{self.log}:\n{tail}"
        )

    def close(self, timeout: float = 30.0) -> None:
        """Close stdin (the child's cue to finish) and wait; kill it if it hangs."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def close_all(children: Sequence[Child]) -> None:
    """Close every child (each is waited for; one that hangs is killed)."""
    for child in children:
        if child.proc.stdin is not None and not child.proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                child.proc.stdin.close()
    for child in children:
        child.close()


def best_median(
    values: Sequence[float], *, higher_is_better: bool = True
) -> dict[str, float]:
    """The best and the median of a series of runs."""
    best = max(values) if higher_is_better else min(values)
    return {"best": best, "median": statistics.median(values), "runs": len(values)}


def load_note() -> str:
    """The machine's load averages, for the report (the machine may be shared)."""
    one, five, fifteen = os.getloadavg()
    return (
        f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} cpus"
    )


def print_table(title: str, rows: Sequence[tuple[str, str, str]]) -> None:
    """Print ``(name, value, note)`` rows under a title, aligned."""
    width = max(len(row[0]) for row in rows)
    print(title)
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:>22}  {note}")


def write_json(path: Path, result: dict[str, Any]) -> None:
    """Write one benchmark's figures (under bench/results/)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
