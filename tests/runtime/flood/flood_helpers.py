"""Networks of three or four real managers on 127.0.0.1 for the flood-rule tests.

Every node is a real :class:`~entanglement.network.SyncServer` with an in-memory
:class:`FloodRegistry` (a :class:`~entanglement.memory.SyncStoreRegistry`, so the real
``sync``/``forward``/``create``/``delete`` operation objects and the real stores run).
Links are real TLS connections made with the session PKI of ``tests/runtime/conftest.py``.

What each node receives is recorded twice:

* by its :class:`RecordingDestination` (one per peer): every message that reaches the
  receive pipeline from that peer (``should_listen`` is the first hook), with whether it
  was a request (RESPONSE_NEEDED) or a response (``_resp_for`` of an awaited request);
* by its registry: what was accepted (``incoming_<op>`` hooks).

:func:`settle` waits until the network is quiet (every frame written has been read and
processed, nothing queued, stable over a few polls), so tests can assert *exact* counts:
nothing more can arrive afterwards.

Application choices of the test registry (the spec leaves them to applications):

* a received SyncOwner is passed on to the other neighbours (the in-memory owner is not
  flooded by the protocol, §13), so nodes two hops away can accept the owner's objects;
* the owner assigns keys to objects created without one (``next_id``);
* ``label`` values steer failures at the owner: ``"boom"`` raises a RuntimeError (a
  programming error: nothing is sent back), ``"refused"`` raises SyncUnauthorized;
  ``veto`` makes ``incoming_sync`` refuse a label, ``reply_with`` makes it answer sync
  requests with an object of the node's own;
* a destination can refuse labels when sending (``refuse_labels``) or receiving
  (``refuse_on_receive``).
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from entanglement.interface import SyncUnauthorized, sync_property
from entanglement.memory import StoreInSyncStoreMixin, SyncOwner, SyncStoreRegistry
from entanglement.network import SyncDestination, SyncServer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "net"))
from net_helpers import port_of, run, wait_until

__all__ = [
    "Arrival",
    "FloodRegistry",
    "Item",
    "Net",
    "Node",
    "RecordingDestination",
    "build",
    "item",
    "run",
    "settle",
    "wait_until",
]


class Item(StoreInSyncStoreMixin):
    """A keyed, owned object."""

    sync_primary_keys = ("id",)
    id: int = sync_property()
    value: int = sync_property()
    label: str = sync_property()


def item(id: int, value: int = 0, label: str = "") -> Item:
    obj = Item()
    obj.id, obj.value, obj.label = id, value, label
    return obj


_ARRIVAL_ORDER = itertools.count()


@dataclass(frozen=True)
class Arrival:
    """One message as it entered a node's receive pipeline."""

    sender: str
    operation: str
    sync_type: str
    msg: dict[str, Any]
    request: bool  # the frame set RESPONSE_NEEDED
    response: bool  # the frame answered one of our (possibly relayed) requests
    seq: int = field(default_factory=lambda: next(_ARRIVAL_ORDER), compare=False)


class FloodRegistry(SyncStoreRegistry):
    """An in-memory registry of Items that logs what it accepts."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.register_syncable("Item", Item)
        self.accepted: list[tuple[str, Any, Any]] = []  # (op, id, value)
        self.stored_when_relayed: list[Any] = []  # our copy's value at a relay
        self.next_id = 1000
        self.reply_with: Any = None  # answer sync requests with this object
        self.veto: str | None = None  # incoming_sync refuses objects with this label

    @property
    def items(self) -> Any:
        return self.store_for_class(Item)

    def incoming_sync(self, obj: Any, **info: Any) -> None:
        if self.veto is not None and getattr(obj, "label", None) == self.veto:
            raise SyncUnauthorized(f"{self.name} vetoes label {self.veto!r}")
        super().incoming_sync(obj, **info)
        if isinstance(obj, SyncOwner) and not obj.sync_is_local:
            self.manager.synchronize(obj, exclude=[info["sender"]])
        context = info.get("response_for")
        if (
            self.reply_with is not None
            and context is not None
            and not context.responded
        ):
            # The application answers the request with an object of its own.
            self.manager.synchronize(
                self.reply_with, destinations=[info["sender"]], response_for=context
            )
        self._accept("sync", obj)

    def incoming_forward(self, obj: Any, **info: Any) -> None:
        self._steer(obj)
        if not obj.sync_is_local:
            mine = self.items.get(obj.id)
            self.stored_when_relayed.append(getattr(mine, "value", None))
        super().incoming_forward(obj, **info)
        self._accept("forward", obj)

    def incoming_create(self, obj: Any, **info: Any) -> None:
        self._steer(obj)
        if obj.sync_is_local and "id" not in vars(obj):
            obj.id, self.next_id = self.next_id, self.next_id + 1
        super().incoming_create(obj, **info)
        self._accept("create", obj)

    def incoming_delete(self, obj: Any, **info: Any) -> None:
        super().incoming_delete(obj, **info)
        self._accept("delete", obj)

    def _steer(self, obj: Any) -> None:
        if not obj.sync_is_local:
            return
        label = getattr(obj, "label", None)
        if label == "boom":
            raise RuntimeError("the owner's application crashed on this request")
        if label == "refused":
            raise SyncUnauthorized(f"{self.name} refuses label 'refused'")

    def _accept(self, op: str, obj: Any) -> None:
        if isinstance(obj, Item):
            self.accepted.append(
                (op, getattr(obj, "id", None), getattr(obj, "value", None))
            )


class RecordingDestination(SyncDestination):
    """A TLS peer that records every message received from it."""

    def __init__(self, node: Node, peer: Node, *, connect: bool, **kwargs: Any):
        host = "127.0.0.1" if connect else None
        super().__init__(peer.hash, peer.name, host=host, **kwargs)
        self.owner_node = node
        self.refuse_labels: set[str] = set()  # should_send refuses these labels
        self.refuse_on_receive: str | None = None  # should_listen refuses this label
        self.received: list[Arrival] = []
        if connect:
            self.port = peer.port

    def should_listen(self, msg: dict[str, Any], cls: type, **info: Any) -> bool:
        context = info.get("response_for")
        response = context is not None and context.responded
        arrival = Arrival(
            str(self.name), str(msg["_sync_operation"]), msg["_sync_type"],
            dict(msg), context is not None and not response, response,
        )  # fmt: skip
        self.received.append(arrival)
        if (
            self.refuse_on_receive is not None
            and msg.get("label") == self.refuse_on_receive
        ):
            raise SyncUnauthorized(
                f"{self.owner_node.name} does not listen to {msg['label']!r}"
            )
        return True

    def should_send(self, obj: Any, **info: Any) -> bool:
        return getattr(obj, "label", None) not in self.refuse_labels


@dataclass
class Node:
    """One manager of the network."""

    name: str
    hash: Any
    mgr: SyncServer
    reg: FloodRegistry
    port: int = 0
    dests: dict[str, RecordingDestination] = field(default_factory=dict)

    def arrivals(self, sync_type: str = "Item") -> list[Arrival]:
        """Messages of ``sync_type`` received, from all peers, in arrival order."""
        out = sorted(
            (a for d in self.dests.values() for a in d.received), key=lambda a: a.seq
        )
        return [a for a in out if a.sync_type == sync_type]

    def count(self, sync_type: str = "Item") -> Counter[tuple[str, str]]:
        """``(operation, sender)`` → number of ``sync_type`` messages received."""
        return Counter((a.operation, a.sender) for a in self.arrivals(sync_type))

    def owner_of(self, owner_node: Node) -> SyncOwner:
        """Our record of ``owner_node``'s local owner."""
        owner: SyncOwner = self.reg.owners[owner_node.reg.local_owner.id]
        return owner

    def publish(self, obj: Item) -> None:
        """Store a new object under our local owner and flood it."""
        self.reg.store_synchronize(obj)


@dataclass
class Net:
    """The nodes, by name."""

    nodes: dict[str, Node]

    def __getitem__(self, name: str) -> Node:
        return self.nodes[name]

    async def announce(self, *names: str) -> None:
        """Send the local owner of each named node to everyone; wait until settled."""
        for name in names:
            assert self.nodes[name].reg.local_owner.dest_hash is None
        await settle(self)

    async def aclose(self) -> None:
        for node in self.nodes.values():
            await node.mgr.aclose()


async def build(
    pki: Any,
    names: dict[str, str],
    links: list[tuple[str, str]],
    per_link: dict[str, dict[str, Any]] | None = None,
) -> Net:
    """Start one SyncServer per name and connect the links (x connects out to y).

    Args:
        pki: the session PKI fixture.
        names: node name → PKI node name (``a``..``d``).
        links: pairs (x, y): x opens the TLS connection to y's listener.
        per_link: destination options keyed ``"x>y"`` for x's destination of y,
            e.g. ``{"S>C": {"bw_per_sec": 500}}``.
    """
    per_link = per_link or {}
    nodes: dict[str, Node] = {}
    for name, pki_name in names.items():
        cert = pki.nodes[pki_name]
        reg = FloodRegistry(name)
        mgr = SyncServer(
            cert.cert, 0, key=cert.key, cafile=cert.cafile, registries=[reg]
        )
        await mgr.listen_ssl(0, "127.0.0.1")
        nodes[name] = Node(name, cert.hash, mgr, reg, port_of(mgr))
    tasks: list[asyncio.Task[Any]] = []
    for x, y in links:
        nx, ny = nodes[x], nodes[y]
        at_y = RecordingDestination(
            ny, nx, connect=False, **per_link.get(f"{y}>{x}", {})
        )
        ny.dests[x] = at_y
        ny.mgr.add_destination(at_y)
        at_x = RecordingDestination(
            nx, ny, connect=True, **per_link.get(f"{x}>{y}", {})
        )
        nx.dests[y] = at_x
        task = nx.mgr.add_destination(at_x)
        assert task is not None
        tasks.append(task)
    await asyncio.gather(*tasks)
    await wait_until(lambda: all(_fully_connected(n) for n in nodes.values()))
    return Net(nodes)


def _fully_connected(node: Node) -> bool:
    live = {p.dest.dest_hash for p in node.mgr.connections}
    return all(d.dest_hash in live for d in node.dests.values())


def _link_state(net: Net) -> tuple[Any, ...] | None:
    """Counters of every live link; None while something is queued or in flight."""
    state = []
    for node in net.nodes.values():
        for protocol in node.mgr.connections:
            conn = protocol.conn
            if conn.has_output:
                return None
            peer = next(
                (n for n in net.nodes.values() if n.hash == protocol.dest.dest_hash),
                None,
            )
            back = peer.mgr._connections.get(node.hash) if peer else None
            if back is not None and back.conn.in_count != conn.out_count:
                return None
            state.append((node.name, str(protocol.dest.name), conn.out_count))
    return tuple(sorted(state))


async def settle(net: Net, polls: int = 3) -> None:
    """Wait until no frame is queued or in flight, stable over ``polls`` polls."""
    previous, stable = None, 0
    while stable < polls:
        await asyncio.sleep(0.02)
        state = _link_state(net)
        if state is not None and state == previous:
            stable += 1
        else:
            stable = 0
        previous = state
