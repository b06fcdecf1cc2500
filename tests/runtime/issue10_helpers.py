"""Shared set-up of the issue 10 runtime regression tests (tests/runtime/test_issue10_*).

A real SyncServer (node A) with one well-behaved SyncManager client (node B) and a raw
TLS peer (node D, :class:`raw_peer.RawPeer`) that writes frames by hand, all on
127.0.0.1 in one event loop.  The helpers of ``net/`` and ``conformance/`` are reused.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
for _sub in ("net", "conformance"):
    if str(_HERE / _sub) not in sys.path:
        sys.path.insert(0, str(_HERE / _sub))

from net_helpers import (  # noqa: E402
    Owner,
    Thing,
    ThingRegistry,
    connect_pair,
    fresh_registries,
    manager,
    port_of,
    run,
    server,
    wait_until,
)
from raw_peer import Frame, RawPeer, answers  # noqa: E402

from entanglement.network import SyncDestination, SyncManager, SyncServer  # noqa: E402

__all__ = [
    "RAW_NAME",
    "Frame",
    "Owner",
    "RawPeer",
    "Serving",
    "Thing",
    "ThingRegistry",
    "answers",
    "run",
    "serving",
    "thing_msg",
    "wait_until",
]

RAW_NAME = "raw peer"


@dataclass
class Serving:
    """What a scenario gets: the server, its good client, the raw peer and registries."""

    srv: SyncServer
    good: SyncManager
    raw: RawPeer
    ra: ThingRegistry
    rb: ThingRegistry
    pki: Any

    @property
    def raw_protocol(self) -> Any:
        """The server's connection to the raw peer."""
        return self.srv._connections[self.pki.nodes["d"].hash]


async def serving(
    pki: Any,
    case: Callable[[Serving], Awaitable[None]],
    extra_registries: tuple[Any, ...] = (),
) -> None:
    """Server A with a good client B and the raw peer D; run ``case``, then check
    that the server still serves B."""
    ra, rb, _ = fresh_registries()
    a, b, d = pki.nodes["a"], pki.nodes["b"], pki.nodes["d"]
    async with server(a, ra, *extra_registries) as srv, manager(b, rb) as good:
        await connect_pair(srv, good, a, b)
        srv.add_destination(SyncDestination(d.hash, RAW_NAME))
        raw = await RawPeer.connect(port_of(srv), d.cert, d.key, d.cafile)
        await wait_until(lambda: len(srv.connections) == 2)
        try:
            await case(Serving(srv, good, raw, ra, rb, pki))
        finally:
            await raw.close()
        srv.synchronize(ra.add_local(Thing(77, Owner(), color="still here")))
        await rb.wait_for(lambda: 77 in rb.things)


def thing_msg(**extra: Any) -> dict[str, Any]:
    """A valid Thing sync from a new owner (learned from the sender)."""
    msg = {"id": 5, "color": "c", "_sync_owner": str(Owner().id), "_sync_type": "Thing"}
    msg.update(extra)
    return msg


async def still_answers(raw: RawPeer) -> None:
    """A request nobody can answer with data still gets its error back."""
    number = raw.request({"_sync_type": "NoSuchClass"})
    frame = await raw.receive()
    assert frame.msg["_sync_type"] == "UnregisteredSyncClass"
    assert frame.msg["_resp_for"] == [number]
