"""Wire fuzzing: malformed frames of every kind into a live server (issue 10).

One SyncServer (node A) runs for the whole test with a well-behaved SyncManager client
(node B) and a raw TLS peer (node D) that writes what hypothesis generates: bytes that
are not JSON, JSON that is not an object, objects whose reserved keys hold any JSON
value, plausible objects with stray attributes, requests carrying ``_resp_for``,
non-critical flags, and the fatal kinds (an oversized length, unknown critical flag
bits, a frame cut short) after which the server closes the link and the raw peer
connects again.  While each batch is handled, B keeps synchronising objects to the
server.

Asserted after every batch: the server is up; B's objects keep arriving; every
non-fatal frame that asked for an answer (RESPONSE_NEEDED) got one (``_resp_for`` or
``_no_resp_for`` naming it); every log line of WARNING or above names a peer (its
destination name and hash), and asyncio logged no error of its own.  At the end:
memory traced by tracemalloc is back near where it was after a warm-up round.

Bounded: a fixed number of examples, no per-example deadline, well under a minute.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import struct
import sys
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_RUNTIME = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_RUNTIME))

from issue10_helpers import (  # noqa: E402
    RAW_NAME,
    Owner,
    RawPeer,
    Thing,
    answers,
    wait_until,
)
from net_helpers import (  # noqa: E402
    connect_pair,
    fresh_registries,
    manager,
    port_of,
    server,
)

from entanglement.network import SyncDestination  # noqa: E402

EXAMPLES = 100
MEMORY_SLACK = 256 * 1024
RESPONSE_NEEDED = 1
SERVER, PEER = "server", "peer"  # which side ends the link after a fatal frame
Frame = tuple[bytes, bool, str]
KNOWN_TYPES = ["Thing", "SyncError", "SyncBadEncodingError", "NoSuchClass", ""]
RESERVED = ["_sync_type", "_sync_operation", "_sync_owner", "_sync_is_error",
            "_resp_for", "_no_resp_for", "_no_resp", "_flags", "_other"]  # fmt: skip

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)


def _dumps(value: Any) -> bytes:
    # Lone surrogates are legal JSON escapes: keep them (ensure_ascii escapes them).
    return json.dumps(value).encode("ascii")


@st.composite
def objects(draw: st.DrawFn) -> bytes:
    """A JSON object: a Thing-like message with any reserved keys and values."""
    msg: dict[str, Any] = {}
    if draw(st.booleans()):
        msg.update(id=draw(st.integers(0, 50)), color=draw(st.text(max_size=10)))
        msg["_sync_owner"] = str(uuid.UUID(int=draw(st.integers(0, 3))))
    msg["_sync_type"] = draw(st.sampled_from(KNOWN_TYPES) | json_values)
    for key in draw(st.lists(st.sampled_from(RESERVED), max_size=3)):
        msg[key] = draw(json_values)
    for key in draw(st.lists(st.text(max_size=6), max_size=2)):
        msg[key] = draw(json_values)
    if draw(st.booleans()):
        msg.pop("_sync_type", None)  # metadata-only
    return _dumps(msg)


payloads = (
    objects()
    | st.binary(max_size=40)
    | json_values.map(_dumps)
    | st.sampled_from([b"", b"{", b"nul", b"\xff\xfe", b'{"a": 1} x', b" {}"])
)


@st.composite
def frames(draw: st.DrawFn) -> Frame:
    """(bytes to write, asks for an answer, who ends the link: "", server, peer)."""
    kind = draw(st.integers(0, 19))
    if kind == 0:  # a length above the limit
        return struct.pack(">II", 65537 + draw(st.integers(0, 2**20)), 0), False, SERVER
    if kind == 1:  # an unknown critical flag
        flags = draw(st.integers(2, 0xFFFF)) & ~1 or 2
        return struct.pack(">II", 2, flags) + b"{}", False, SERVER
    if kind == 2:  # a frame cut short: the peer goes away mid-frame
        return struct.pack(">II", 100, 0) + b"{", False, PEER
    payload = draw(payloads)
    flags = draw(st.sampled_from([0, RESPONSE_NEEDED, 0x00010000, 0x00FF0001]))
    return struct.pack(">II", len(payload), flags) + payload, bool(flags & 1), ""


class Harness:
    """The live server, its good client, the raw peer and what they saw."""

    def __init__(self, pki: Any) -> None:
        self.pki = pki
        self.records: list[tuple[str, str]] = []  # (logger, message)
        self.next_id = 1000

    async def start(self) -> None:
        ra, rb, _ = fresh_registries()
        self.ra, self.rb = ra, rb
        a, b, d = (self.pki.nodes[n] for n in "abd")
        self.srv = server(a, ra)
        self.good = manager(b, rb)
        await connect_pair(self.srv, self.good, a, b)
        self.srv.add_destination(SyncDestination(d.hash, RAW_NAME))
        self.to_srv = next(iter(self.good.destinations))
        self.owner = Owner()
        await self.connect_raw()

    async def connect_raw(self) -> None:
        d = self.pki.nodes["d"]
        self.raw = await RawPeer.connect(port_of(self.srv), d.cert, d.key, d.cafile)
        await wait_until(lambda: d.hash in self.srv._connections)

    async def stop(self) -> None:
        await self.raw.close()
        await self.good.aclose()
        await self.srv.aclose()

    def runtime_memory(self) -> int:
        """:func:`runtime_memory` without the objects the registries keep on purpose
        (stored Things, their owners, the list of what arrived)."""
        for reg in (self.ra, self.rb):
            reg.things.clear()
            reg.owners.clear()
            reg.received.clear()
        self.rb.owners[str(self.owner.id)] = self.owner
        return runtime_memory()

    def good_object(self) -> int:
        """B synchronises a new object of its own; returns its id."""
        self.next_id += 1
        self.good.synchronize(
            self.rb.add_local(Thing(self.next_id, self.owner, color="good"))
        )
        return self.next_id

    async def batch(self, batch: list[Frame]) -> None:
        asked: list[int] = []
        sent_ids = [self.good_object()]
        for data, wants_answer, fatal in batch:
            if fatal:
                self.raw.writer.write(data)
                if fatal == SERVER:
                    await self.closed_by_server()
                await self.raw.close()
                await wait_until(self.raw_gone)
                await self.connect_raw()
                asked = []
                continue
            number = self.raw.out_count
            self.raw.writer.write(data)
            self.raw.out_count += 1
            if wants_answer:
                asked.append(number)
            sent_ids.append(self.good_object())  # B is served while D misbehaves
        barrier = self.raw.request({"_sync_type": "NoSuchClass"})
        seen: set[int] = set()
        # Every request is answered (§19.3), not necessarily in order: a flooded
        # object's answer may wait for the flood, after the barrier's refusal.  A
        # request never answered fails here by the harness's time bound.
        while barrier not in seen or not set(asked) <= seen:
            frame = await self.raw.receive()
            seen.update(answers(frame))
        await wait_until(lambda: all(i in self.ra.things for i in sent_ids))

    def raw_gone(self) -> bool:
        return self.pki.nodes["d"].hash not in self.srv._connections

    async def closed_by_server(self) -> None:
        while True:
            try:
                if not await self.raw.reader.read(65536):
                    break
            except (ConnectionError, OSError):
                break


def runtime_memory() -> int:
    """Bytes allocated by the runtime's code and still alive (hypothesis's own
    bookkeeping and the test's are left out)."""
    gc.collect()
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(True, "*/entanglement/*")]
    )
    return sum(stat.size for stat in snapshot.statistics("filename"))


class Collect(logging.Handler):
    """Keeps the logger and text of WARNING+ records (not the records: their
    arguments would count as the runtime's memory)."""

    def __init__(self, records: list[tuple[str, str]]) -> None:
        super().__init__(logging.WARNING)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.getMessage()))


def test_malformed_frames_of_every_kind(pki) -> None:
    harness = Harness(pki)
    loop = asyncio.new_event_loop()
    handler = Collect(harness.records)
    loggers = [logging.getLogger("entanglement"), logging.getLogger("asyncio")]
    for logger in loggers:
        # Only our handler sees the records: pytest's capture would keep every one
        # (and the strings they hold would count as the runtime's memory).
        logger.addHandler(handler)
        logger.propagate = False

    def within(coro: Any, timeout: float = 20.0) -> Any:
        async def bounded() -> Any:
            async with asyncio.timeout(timeout):
                return await coro

        return loop.run_until_complete(bounded())

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(frames(), min_size=1, max_size=12))
    def example(batch: list[Frame]) -> None:
        within(harness.batch(batch))

    try:
        tracemalloc.start()
        within(harness.start())
        for _ in range(3):  # warm-up: caches, first connections, a reconnect
            within(harness.batch([(struct.pack(">II", 2, 1) + b"{}", True, "")]))
            within(harness.batch([(struct.pack(">II", 100, 0) + b"{", False, PEER)]))
        before = harness.runtime_memory()
        example()
        within(harness.batch([]))
        after = harness.runtime_memory()
        tracemalloc.stop()
        assert not harness.srv._closing
        assert after - before < MEMORY_SLACK, (before, after)
        within(harness.stop())
    finally:
        tracemalloc.stop()
        for logger in loggers:
            logger.removeHandler(handler)
            logger.propagate = True
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    assert harness.records, "the malformed frames were logged"
    for name, line in harness.records:
        assert name != "asyncio", line
        assert " ni:///sha-256;" in line, line
