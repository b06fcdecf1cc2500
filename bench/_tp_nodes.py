"""The processes of ``bench/throughput.py``: one node (or one floor side) per process.

Run by the benchmark, not by hand: ``python bench/_tp_nodes.py ROLE [options]``.

Roles:

* ``sender``: a ``SyncServer`` on 127.0.0.1 (port 0, reported as ``ready``) owning the
  objects; once the receiver is connected it runs the scenario's sending side, then
  serves until its stdin closes and reports the CPU seconds it used (``cpu``).
* ``receiver``: a ``SyncManager`` connecting to the sender; it reports ``done`` (the
  clock when the last object was stored, and its CPU seconds) or the latency samples.
* ``floor-sender`` / ``floor-receiver``: the same two processes with no library code:
  bare asyncio TLS streams, ``json.dumps`` + the 8-byte frame header on one side,
  frame splitting + ``json.loads`` on the other, writes of 256 KiB with ``drain``.
* ``one-process`` / ``one-process-floor``: both sides in one process and one event
  loop (the previous benchmark's set-up), kept for context rows (``one-process`` also
  runs the ``latency`` scenario).
* ``hooks-alone``: no runtime and no network: the least that any implementation of the
  spec's hook calls must run per received object of this application, timed in CPU
  seconds: ``json.loads`` of the wire payload, ``Item.sync_construct(msg, **info)``,
  the owner-direction test, the two assignments, and ``AppStore.sync_receive(obj,
  **info)``, whose ``super()`` goes straight to ``incoming_sync(obj, **info)``.  It is
  the ceiling a runtime adding nothing would reach on the receiving side.

Scenarios of the library roles: ``throughput`` (``--n`` objects, each once),
``latency`` (``--rounds`` forwards with ``response=True`` to the owner, answered by its
``sync`` flood), ``coalesce`` (``--n`` updates of one object with no yield to the event
loop, then ``--n`` updates of another yielding every 100; the receiver counts the
frames each object arrived in).

``--profile PATH`` runs the role under ``cProfile`` and writes its stats to PATH
(``bench/throughput.py --profile DIR`` does so for one extra, untimed run).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import ssl
import statistics
import struct
import sys
import time
import uuid
from typing import Any

from _app import AppStore, Item, Owner, PortDest, make_items, make_store
from _common import commands, emit, now

from entanglement.interface import SyncRegistry
from entanglement.network import SyncDestination, SyncManager, SyncServer
from entanglement.operations import sync
from entanglement.pki import cert_hash_text

HEADER = struct.Struct(">II")
CHUNK = 256 * 1024


async def wait_connected(manager: SyncManager) -> None:
    """Until the manager has a live (identified) connection (within 30 s)."""
    async with asyncio.timeout(30):
        while not manager.connections:  # noqa: ASYNC110 - no public "connected" event
            await asyncio.sleep(0.001)


async def run_sender(args: argparse.Namespace) -> None:
    store = make_store(args.hooks)
    srv = SyncServer(args.cert, 0, key=args.key, cafile=args.ca, registries=[store])
    async with srv:
        listener = await srv.listen_ssl(0, "127.0.0.1")
        srv.add_destination(
            SyncDestination(args.peer_hash, "receiver", bw_per_sec=10**10)
        )
        emit("ready", port=listener.sockets[0].getsockname()[1])
        await wait_connected(srv)
        cpu = time.process_time()
        owner = Owner(uuid.uuid4())
        if args.scenario == "throughput":
            items = make_items(args.n, owner)
            cpu = time.process_time()  # from the first object on, as the floor's
            emit("start", t=now())
            for item in items:
                srv.synchronize(item)
        elif args.scenario == "latency":
            [item] = make_items(1, owner, start=1)
            store.owners[owner.text], store.items[1] = owner, item
            srv.synchronize(item)
        else:
            await _coalesce(srv, owner, args.n)
        async for _ in commands():
            pass
        emit("cpu", cpu=time.process_time() - cpu)


async def _coalesce(srv: SyncServer, owner: Owner, updates: int) -> None:
    emit("start", t=now())
    for i in range(updates):  # no yield: every update but the last is coalesced
        item = Item(1, owner)
        item.color, item.size = "blue", i
        srv.synchronize(item)
    await asyncio.sleep(0)
    emit("start_yielding", t=now())
    for i in range(updates):
        item = Item(2, owner)
        item.color, item.size = "blue", i
        srv.synchronize(item)
        if i % 100 == 99:
            await asyncio.sleep(0)


async def run_receiver(args: argparse.Namespace) -> None:
    store = make_store(args.hooks)
    loop = asyncio.get_running_loop()
    store.done = loop.create_future()
    if args.scenario == "throughput":
        store.target = args.n
    elif args.scenario == "latency":
        store.target = 1
    else:
        store.watch = (1, args.n - 1)
    cli = SyncManager(args.cert, 0, key=args.key, cafile=args.ca, registries=[store])
    async with cli, asyncio.timeout(args.timeout):
        connecting = cli.add_destination(PortDest(args.peer_hash, "sender", args.port))
        assert connecting is not None
        await connecting
        await wait_connected(cli)
        cpu = time.process_time()
        end = await store.done
        if args.scenario == "throughput":
            emit("done", t=end, cpu=time.process_time() - cpu, count=store.count)
        elif args.scenario == "latency":
            emit("latency", **await _latency(cli, store, args.rounds))
        else:
            first = store.per_id[1]
            store.done, store.watch = loop.create_future(), (2, args.n - 1)
            end_yielding = await store.done
            emit("coalesced", t=end, frames=first, t_yielding=end_yielding,
                 frames_yielding=store.per_id[2])  # fmt: skip


async def _latency(cli: SyncManager, store: Any, rounds: int) -> dict[str, float]:
    [to_owner] = cli.destinations
    samples = []
    for i in range(rounds):
        proposal = Item(1, store.items[1].sync_owner)
        proposal.size = i
        start = time.perf_counter()
        await cli.synchronize(
            proposal, destinations=[to_owner], operation="forward",
            attributes_to_sync=["id", "size"], response=True,
        )  # fmt: skip
        samples.append(time.perf_counter() - start)
    samples.sort()
    return {
        "rounds": rounds,
        "p50_ms": 1000 * statistics.median(samples),
        "p99_ms": 1000 * samples[int(0.99 * (len(samples) - 1))],
        "max_ms": 1000 * samples[-1],
    }


# -- the floor ---------------------------------------------------------------------------


def floor_messages(n: int) -> list[dict[str, Any]]:
    """The library's wire messages for ``n`` items (same keys, same order)."""
    owner = str(uuid.uuid4())
    return [{"id": i, "color": "red", "size": i, "_sync_owner": owner,
             "_sync_type": "Item"} for i in range(n)]  # fmt: skip


def contexts(args: argparse.Namespace) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """Server and client contexts of the floor (mutual TLS, as the library's)."""
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=args.ca)
    server.load_cert_chain(args.cert, args.key)
    server.verify_mode = ssl.CERT_REQUIRED
    client = ssl.create_default_context(cafile=args.ca)
    client.load_cert_chain(args.cert, args.key)
    return server, client


async def send_frames(writer: asyncio.StreamWriter, msgs: list[dict[str, Any]]) -> None:
    """json.dumps + header per message, joined into writes of 256 KiB with drain."""
    chunk: list[bytes] = []
    size = 0
    for msg in msgs:
        payload = json.dumps(msg).encode()
        chunk.append(HEADER.pack(len(payload), 0) + payload)
        size += len(payload) + 8
        if size >= CHUNK:
            writer.write(b"".join(chunk))
            chunk, size = [], 0
            await writer.drain()
    writer.write(b"".join(chunk))
    await writer.drain()


class FrameCounter(asyncio.Protocol):
    """Splits frames and ``json.loads`` each; resolves ``done`` after ``n`` of them."""

    def __init__(
        self, n: int, done: asyncio.Future[float], decode: bool = True
    ) -> None:
        self.buf = bytearray()
        self.count, self.n, self.done, self.decode = 0, n, done, decode

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        pos = 0
        while len(buf) - pos >= 8:
            length, _ = HEADER.unpack_from(buf, pos)
            if len(buf) - pos - 8 < length:
                break
            if self.decode:
                json.loads(bytes(buf[pos + 8 : pos + 8 + length]))
            pos += 8 + length
            self.count += 1
        del buf[:pos]
        if self.count >= self.n and not self.done.done():
            self.done.set_result(now())


async def run_floor_sender(args: argparse.Namespace) -> None:
    msgs = floor_messages(args.n)
    server_ctx, _ = contexts(args)
    loop = asyncio.get_running_loop()
    sent: asyncio.Future[None] = loop.create_future()
    finished: asyncio.Future[None] = loop.create_future()
    cpu = [time.process_time()]

    async def on_connect(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        cpu[0] = time.process_time()  # from the first message on, as the library's
        emit("start", t=now())
        await send_frames(writer, msgs)
        sent.set_result(None)
        await reader.read()  # until the receiver closes
        writer.close()
        finished.set_result(None)

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0, ssl=server_ctx)
    async with server:
        emit("ready", port=server.sockets[0].getsockname()[1])
        async with asyncio.timeout(args.timeout):
            await sent
        async for _ in commands():
            pass
        async with asyncio.timeout(args.timeout):
            await finished
        emit("cpu", cpu=time.process_time() - cpu[0])


async def run_floor_receiver(args: argparse.Namespace) -> None:
    _, client_ctx = contexts(args)
    loop = asyncio.get_running_loop()
    done: asyncio.Future[float] = loop.create_future()
    transport, _ = await loop.create_connection(
        lambda: FrameCounter(args.n, done), "127.0.0.1", args.port, ssl=client_ctx,
        server_hostname="127.0.0.1",
    )  # fmt: skip
    cpu = time.process_time()
    async with asyncio.timeout(args.timeout):
        end = await done
    emit("done", t=end, cpu=time.process_time() - cpu, count=args.n)
    transport.close()


# -- one process (context rows) -----------------------------------------------------------


async def run_one_process(args: argparse.Namespace) -> None:
    """Sender and receiver nodes in this process and event loop."""
    sender, receiver = make_store(args.hooks), make_store(args.hooks)
    srv = SyncServer(args.cert, 0, key=args.key, cafile=args.ca, registries=[sender])
    cli = SyncManager(
        args.cert2, 0, key=args.key2, cafile=args.ca, registries=[receiver]
    )
    async with srv, cli, asyncio.timeout(args.timeout):
        listener = await srv.listen_ssl(0, "127.0.0.1")
        port = listener.sockets[0].getsockname()[1]
        srv.add_destination(
            SyncDestination(args.peer_hash, "client", bw_per_sec=10**10)
        )
        own_hash = cert_hash_text(args.cert)
        connecting = cli.add_destination(PortDest(own_hash, "server", port))
        assert connecting is not None
        await connecting
        await wait_connected(srv)
        if args.scenario == "latency":
            owner = Owner(uuid.uuid4())
            [item] = make_items(1, owner, start=1)
            sender.owners[owner.text], sender.items[1] = owner, item
            receiver.done, receiver.target = srv.loop.create_future(), 1
            srv.synchronize(item)
            await receiver.done
            emit("latency", **await _latency(cli, receiver, args.rounds))
            return
        items = make_items(args.n, Owner(uuid.uuid4()))
        receiver.done, receiver.target = srv.loop.create_future(), args.n
        start, cpu = now(), time.process_time()
        for item in items:
            srv.synchronize(item)
        end = await receiver.done
        emit("result", seconds=end - start, cpu=time.process_time() - cpu)


async def run_one_process_floor(args: argparse.Namespace) -> None:
    """The floor's two sides in this process and event loop."""
    server_ctx, client_ctx = contexts(args)
    loop = asyncio.get_running_loop()
    done: asyncio.Future[float] = loop.create_future()
    msgs = floor_messages(args.n)
    server = await loop.create_server(
        lambda: FrameCounter(args.n, done), "127.0.0.1", 0, ssl=server_ctx
    )
    async with server, asyncio.timeout(args.timeout):
        port = server.sockets[0].getsockname()[1]
        _reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_ctx, server_hostname="127.0.0.1"
        )
        start, cpu = now(), time.process_time()
        await send_frames(writer, msgs)
        end = await done
        emit("result", seconds=end - start, cpu=time.process_time() - cpu)
        writer.close()
        await writer.wait_closed()


class _BareRegistry(SyncRegistry):
    """A base ``sync_receive`` doing the least: the operation's registry hook."""

    def sync_receive(self, obj: Any, operation: Any, **info: Any) -> Any:
        return self.incoming_sync(obj, **info)  # type: ignore[attr-defined]


class _CeilingStore(AppStore, _BareRegistry):
    """The benchmark's application on :class:`_BareRegistry` (its ``super()`` calls
    resolve to it: AppStore, Store, _BareRegistry, SyncRegistry)."""


async def run_hooks_alone(args: argparse.Namespace) -> None:
    """The application's hooks alone (see the module docstring), CPU-timed."""
    store = _CeilingStore()
    store.register_syncable("Item", Item)
    payloads = [json.dumps(m, separators=(",", ":")).encode()
                for m in floor_messages(args.n)]  # fmt: skip
    sender = SyncDestination(bytes(32), "sender")
    info: dict[str, Any] = {"protocol": None, "manager": None, "response_for": None,
                            "sender": sender, "operation": sync, "registry": store,
                            "attributes": frozenset(), "context": None}  # fmt: skip
    start, cpu = now(), time.process_time()
    for payload in payloads:
        msg = json.loads(payload)
        obj = Item.sync_construct(msg, **info)
        if obj.sync_owner.dest_hash != sender.dest_hash:
            raise AssertionError("owner not learned from the sender")
        obj.color, obj.size = msg["color"], msg["size"]
        store.sync_receive(obj, **info)
    cpu = time.process_time() - cpu
    assert store.count == args.n
    # Wall time is CPU time here (nothing waits): report CPU, which a busy machine
    # disturbs less.
    emit("result", seconds=cpu, cpu=cpu, wall=now() - start)


ROLES = {
    "sender": run_sender,
    "receiver": run_receiver,
    "floor-sender": run_floor_sender,
    "floor-receiver": run_floor_receiver,
    "one-process": run_one_process,
    "one-process-floor": run_one_process_floor,
    "hooks-alone": run_hooks_alone,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=sorted(ROLES))
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--peer-hash", help="the other node's certificate hash")
    parser.add_argument("--cert2", help="the second node's certificate (one-process)")
    parser.add_argument("--key2", help="the second node's key (one-process)")
    parser.add_argument("--port", type=int, help="the sender's port (receivers)")
    parser.add_argument("--scenario", choices=("throughput", "latency", "coalesce"),
                        default="throughput")  # fmt: skip
    parser.add_argument("--hooks", choices=("app", "base"), default="app")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--profile", help="write this process's cProfile stats here")
    args = parser.parse_args()
    if args.profile:
        with cProfile.Profile() as profile:
            asyncio.run(ROLES[args.role](args))
        profile.dump_stats(args.profile)
    else:
        asyncio.run(ROLES[args.role](args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
