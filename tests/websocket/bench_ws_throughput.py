"""Throughput of a WebSocket peer beside a TLS peer (not a test: a measuring tool).

Run: ``.venv/bin/python tests/websocket/bench_ws_throughput.py [--n 20000] [--repeat 5]``.

Both nodes live in one process and one event loop (the context rows of
``bench/throughput.py``): a SyncServer with the generated presence registry sends N
cursors with distinct keys (no coalescing) to a SyncManager, once over TLS
(``listen_ssl`` + ``SyncDestination``) and once over WebSocket (``serve_websocket`` +
``WebSocketDestination``); the time runs from the first ``store_synchronize`` until the
receiver's store holds the last cursor.  Runs alternate TLS and WebSocket ``--repeat``
times; the best and the median of each are printed (objects per second).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "generated"))

from exercise_sync import Side  # noqa: E402
from presence_sync import Cursor, new_registry  # noqa: E402

from entanglement._hashes import DestHash, certhash_from_file  # noqa: E402
from entanglement.network import SyncDestination, SyncManager, SyncServer  # noqa: E402
from entanglement.pki import gen_site_ca, host_cert  # noqa: E402
from entanglement.websocket import WebSocketDestination, serve_websocket  # noqa: E402

BW = 10_000_000_000


class _Port(SyncDestination):
    def __init__(self, dest_hash: Any, name: str, port: int) -> None:
        super().__init__(dest_hash, name, host="127.0.0.1", bw_per_sec=BW)
        self.port = port


async def _wait(predicate: Any) -> None:
    while not predicate():  # noqa: ASYNC110 - stores signal nothing
        await asyncio.sleep(0.001)


async def _send(srv_reg: Any, cli_reg: Any, n: int) -> float:
    cursors = [
        Cursor(participant=uuid.uuid4(), board="b", x=float(i), side=Side.RED)
        for i in range(n)
    ]
    store = cli_reg.store_for_class(Cursor)
    start = time.perf_counter()
    for cursor in cursors:
        srv_reg.store_synchronize(cursor)
    await _wait(lambda: len(store) >= n)
    return time.perf_counter() - start


async def run_tls(pki: dict[str, Any], n: int) -> float:
    srv_reg, cli_reg = new_registry(), new_registry()
    a, b = pki["a"], pki["b"]
    srv = SyncServer(a[0], 0, key=a[1], cafile=pki["ca"], registries=[srv_reg])
    cli = SyncManager(b[0], 0, key=b[1], cafile=pki["ca"], registries=[cli_reg])
    async with srv, cli:
        listener = await srv.listen_ssl(0, "127.0.0.1")
        port = listener.sockets[0].getsockname()[1]
        srv.add_destination(SyncDestination(b[2], "client", bw_per_sec=BW))
        await cli.add_destination(_Port(a[2], "server", port))  # type: ignore[misc]
        await _wait(lambda: bool(srv.connections))
        return await _send(srv_reg, cli_reg, n)


async def run_ws(n: int) -> float:
    srv_reg, cli_reg = new_registry(), new_registry()
    srv = SyncServer(None, 0, registries=[srv_reg])
    cli = SyncManager(None, 0, registries=[cli_reg])
    async with srv, cli:
        hook = lambda request: SyncDestination(  # noqa: E731
            DestHash.from_string("client"), "client", bw_per_sec=BW
        )
        listener = await serve_websocket(srv, hook)
        url = f"ws://127.0.0.1:{listener.sockets[0].getsockname()[1]}/"
        dest = WebSocketDestination(DestHash.from_string("server"), "server", url)
        await cli.add_destination(dest)  # type: ignore[misc]
        await _wait(lambda: bool(srv.connections))
        return await _send(srv_reg, cli_reg, n)


def _pki(directory: Path) -> dict[str, Any]:
    ca = gen_site_ca(directory, "Bench CA")
    pki: dict[str, Any] = {"ca": ca}
    for name in ("a", "b"):
        cert, key = host_cert(directory, "127.0.0.1", prefix=name)
        pki[name] = (cert, key, certhash_from_file(cert))
    return pki


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"TLS": [], "WebSocket": []}
    with tempfile.TemporaryDirectory() as tmp:
        pki = _pki(Path(tmp))
        for _ in range(args.repeat):
            times["TLS"].append(asyncio.run(run_tls(pki, args.n)))
            times["WebSocket"].append(asyncio.run(run_ws(args.n)))
    print(f"{args.n} cursors, one process, {args.repeat} alternating runs")
    print(f"{'transport':<10} {'best obj/s':>12} {'median obj/s':>13}")
    for name, runs in times.items():
        best, median = args.n / min(runs), args.n / statistics.median(runs)
        print(f"{name:<10} {best:>12,.0f} {median:>13,.0f}")


if __name__ == "__main__":
    main()
