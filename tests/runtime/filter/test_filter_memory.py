"""Filtered destinations (§14) over real TLS on 127.0.0.1 with in-memory registries.

A server holds cursors; one peer sees only the public ones (a FilteredSyncDestination),
another sees everything.  Covered: the initial send on connect, admission when an object
starts passing, withdrawal by a synthetic delete when it stops passing (the other peer
keeps it), re-evaluation after a filter change, a three-node gateway where the filter sits
at the relay, and reconnection after the peer's objects changed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from entanglement.filter import (
    Filter,
    FilterBase,
    FilteredSyncDestination,
    SyncOwnerFilter,
)
from entanglement.interface import sync_property
from entanglement.memory import StoreInSyncStoreMixin, SyncOwner, SyncStoreRegistry
from entanglement.network import SyncDestination, SyncManager, SyncServer


def run(coro: Coroutine[Any, Any, Any], timeout: float = 20.0) -> Any:
    async def bounded() -> Any:
        async with asyncio.timeout(timeout):
            return await coro

    return asyncio.run(bounded())


async def wait_until(predicate: Callable[[], bool]) -> None:
    # Stores signal nothing; the scenario's timeout bounds the polling.
    while not predicate():  # noqa: ASYNC110
        await asyncio.sleep(0.005)


class BoardRegistry(SyncStoreRegistry):
    """A memory registry whose application passes received owners on.

    The protocol does not flood in-memory owners (§13); an application whose nodes relay
    objects passes them on itself, so that nodes two hops away accept the objects.
    """

    def incoming_sync(self, obj: Any, **info: Any) -> None:
        super().incoming_sync(obj, **info)
        if isinstance(obj, SyncOwner) and not obj.sync_is_local:
            self.manager.synchronize(obj, exclude=[info["sender"]])


class Card(StoreInSyncStoreMixin):
    sync_registry = BoardRegistry()
    sync_primary_keys = ("id",)
    id: uuid.UUID = sync_property()
    label: str = sync_property()


def fresh(n: int) -> list[BoardRegistry]:
    regs = [BoardRegistry() for _ in range(n)]
    for reg in regs:
        reg.register_syncable("Card", Card)
    return regs


def card(label: str) -> Card:
    c = Card()
    c.id, c.label = uuid.uuid4(), label
    return c


def public_only(reg: BoardRegistry, **kwargs: Any) -> list[FilterBase]:
    return [
        SyncOwnerFilter(reg),
        Filter(
            lambda c: c.label.startswith("public"), type=Card, registry=reg, **kwargs
        ),
    ]


def port(srv: SyncServer) -> int:
    [listener] = srv.servers
    return int(listener.sockets[0].getsockname()[1])


def to_server(node: Any, srv: SyncServer) -> SyncDestination:
    dest = SyncDestination(node.hash, "server", host="127.0.0.1")
    dest.port = port(srv)  # type: ignore[attr-defined]
    return dest


def labels(reg: BoardRegistry) -> dict[uuid.UUID, str]:
    return {c.id: c.label for c in reg.store_for_class(Card).values()}


async def star(pki: Any, regs: list[BoardRegistry]) -> tuple[Any, ...]:
    """Server a (regs[0]); b connects through a filter, c without one."""
    a, b, c = (pki.nodes[n] for n in "abc")
    srv = SyncServer(a.cert, 0, key=a.key, cafile=a.cafile, registries=[regs[0]])
    await srv.listen_ssl(0, "127.0.0.1")
    filtered = FilteredSyncDestination(b.hash, "b", filter_default_permissive=False)
    for f in public_only(regs[0]):
        filtered.add_filter(f)
    srv.add_destination(filtered)
    srv.add_destination(SyncDestination(c.hash, "c"))
    clients = []
    for node, reg in ((b, regs[1]), (c, regs[2])):
        cli = SyncManager(
            node.cert, 0, key=node.key, cafile=node.cafile, registries=[reg]
        )
        clients.append(cli)
    return srv, filtered, clients


async def connect(cli: SyncManager, node: Any, srv: SyncServer) -> None:
    await cli.add_destination(to_server(node, srv))  # type: ignore[misc]
    await wait_until(lambda: len(cli.connections) == 1)


def test_initial_send_admit_withdraw(pki: Any) -> None:
    async def scenario() -> None:
        regs = fresh(3)
        srv, filtered, (b, c) = await star(pki, regs)
        server = regs[0]
        shown, hidden = card("public: agenda"), card("secret: salaries")
        for obj in (shown, hidden):
            server.store_synchronize(obj)
        try:
            await connect(b, pki.nodes["a"], srv)
            await connect(c, pki.nodes["a"], srv)
            await wait_until(lambda: len(srv.connections) == 2)
            # Initial send: the filtered peer gets only what passes, the other peer
            # gets what is synchronised from now on.
            await wait_until(lambda: shown.id in labels(regs[1]))
            assert hidden.id not in labels(regs[1])

            hidden.label = "public: salaries (published)"
            server.store_synchronize(hidden)  # admitted: starts passing
            await wait_until(lambda: hidden.id in labels(regs[1]))
            await wait_until(lambda: hidden.id in labels(regs[2]))

            shown.label = "secret: agenda (retracted)"
            server.store_synchronize(shown)  # withdrawn from b, kept by c
            await wait_until(lambda: shown.id not in labels(regs[1]))
            await wait_until(
                lambda: labels(regs[2]).get(shown.id) == "secret: agenda (retracted)"
            )
            assert labels(regs[1]) == {hidden.id: "public: salaries (published)"}
            assert ("Card", (hidden.id,)) in filtered.sent
            assert ("Card", (shown.id,)) not in filtered.sent
        finally:
            for m in (b, c, srv):
                await m.aclose()

    run(scenario())


def test_filter_change_re_evaluates(pki: Any) -> None:
    async def scenario() -> None:
        regs = fresh(3)
        srv, filtered, (b, c) = await star(pki, regs)
        server = regs[0]
        first, second = card("public: one"), card("draft: two")
        for obj in (first, second):
            server.store_synchronize(obj)
        try:
            await connect(b, pki.nodes["a"], srv)
            await wait_until(lambda: first.id in labels(regs[1]))
            # Replace the label filter by one that passes drafts only.
            old = filtered.filters[-1]
            filtered.remove_filter(old)
            # The list before the last change stays available ("what passed before").
            assert filtered.filters_pass(first, old_filters=True)
            assert not filtered.filters_pass(first)
            filtered.add_filter(
                Filter(
                    lambda c: c.label.startswith("draft"), type=Card, registry=server
                )
            )
            assert filtered.potential_withdrawn_objects(srv) == 1
            assert filtered.potential_new_objects(srv) == 1
            await wait_until(lambda: set(labels(regs[1])) == {second.id})
        finally:
            for m in (b, c, srv):
                await m.aclose()

    run(scenario())


def test_veto_beats_recommendation_and_default(pki: Any) -> None:
    regs = fresh(1)
    dest = FilteredSyncDestination(pki.nodes["b"].hash, "b")
    c = card("public: x")
    assert not dest.filters_pass(c)  # no filters, not permissive
    dest.filter_default_permissive = True
    assert dest.filters_pass(c)
    dest.add_filter(Filter(lambda obj: True, registry=regs[0], order=50))
    dest.add_filter(Filter(lambda obj: False, type=Card, order=60))
    assert [f.order for f in dest.filters] == [50, 60]
    assert not dest.filters_pass(c)
    with pytest.raises(NotImplementedError, match="should_listen"):
        dest.should_listen({}, Card)
    dest.filter_should_listen_returns_true = True
    assert dest.should_listen({}, Card)


def test_gateway_filters_what_it_relays(pki: Any) -> None:
    """Owner a → relay g → leaf l; the relay's filter hides a's secret cards from l."""

    async def scenario() -> None:
        ra, rg, rl = fresh(3)
        a, g, leaf = (pki.nodes[n] for n in "abc")
        gateway = SyncServer(g.cert, 0, key=g.key, cafile=g.cafile, registries=[rg])
        await gateway.listen_ssl(0, "127.0.0.1")
        gateway.add_destination(SyncDestination(a.hash, "a"))
        to_leaf = FilteredSyncDestination(leaf.hash, "leaf")
        # The relay enumerates its own store (what it learned from a).
        for f in public_only(rg):
            to_leaf.add_filter(f)
        gateway.add_destination(to_leaf)
        owner = SyncManager(a.cert, 0, key=a.key, cafile=a.cafile, registries=[ra])
        leaf_m = SyncManager(
            leaf.cert, 0, key=leaf.key, cafile=leaf.cafile, registries=[rl]
        )
        try:
            await connect(owner, g, gateway)
            await connect(leaf_m, g, gateway)
            await wait_until(lambda: len(gateway.connections) == 2)
            shown, hidden = card("public: map"), card("secret: plan")
            for obj in (shown, hidden):
                ra.store_synchronize(obj)
            await wait_until(lambda: set(labels(rg)) == {shown.id, hidden.id})
            await wait_until(lambda: shown.id in labels(rl))
            assert hidden.id not in labels(rl)
            shown.label = "secret: map"
            ra.store_synchronize(shown)
            await wait_until(lambda: labels(rg).get(shown.id) == "secret: map")
            await wait_until(lambda: shown.id not in labels(rl))
        finally:
            for m in (owner, leaf_m, gateway):
                await m.aclose()

    run(scenario())


def test_reconnect_withdraws_and_resends(pki: Any) -> None:
    async def scenario() -> None:
        regs = fresh(3)
        srv, _filtered, (b, c) = await star(pki, regs)
        server = regs[0]
        stays, leaves = card("public: stays"), card("public: leaves")
        for obj in (stays, leaves):
            server.store_synchronize(obj)
        await c.aclose()
        try:
            await connect(b, pki.nodes["a"], srv)
            await wait_until(lambda: set(labels(regs[1])) == {stays.id, leaves.id})
            await b.aclose()
            await wait_until(lambda: not srv.connections)
            # While apart: one object changes and still passes, one stops passing
            # (the application changed it without synchronising: nothing was sent).
            stays.label = "public: stays, edited"
            server.store_synchronize(stays)
            leaves.label = "secret: leaves"
            b2 = SyncManager(
                pki.nodes["b"].cert,
                0,
                key=pki.nodes["b"].key,
                cafile=pki.nodes["b"].cafile,
                registries=[regs[1]],
            )
            try:
                await connect(b2, pki.nodes["a"], srv)
                await wait_until(
                    lambda: labels(regs[1]) == {stays.id: "public: stays, edited"}
                )
            finally:
                await b2.aclose()
        finally:
            await srv.aclose()

    run(scenario())
