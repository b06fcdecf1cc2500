"""Plans never outlive a hook change (issue 12 item 1), over real TLS on 127.0.0.1.

Receive plans are made per chunk read and send plans per class (checked on every
call): a hook installed or removed between two messages applies to the next one,
whether it is set on an instance or on a class.  Each scenario first lets a plan be
made (a message goes through), then changes a hook, then checks the very next
message.  Messages of one connection are handled in order, so once a later message
arrived, an earlier refused one was handled (and refused).
"""

from __future__ import annotations

from typing import Any

import pytest
from net_helpers import (
    Owner,
    Thing,
    ThingRegistry,
    connect_pair,
    fresh_registries,
    manager,
    run,
    server,
    wait_until,
)

from entanglement.interface import SyncUnauthorized
from entanglement.protocol import EAGER_FRAMES


def _refuse(*args: Any, **info: Any) -> bool:
    raise SyncUnauthorized("refused by the hook installed between messages")


def test_receive_hooks_changed_between_messages_apply_to_the_next(
    pki: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        ra, rb, _ = fresh_registries()
        a, b = pki.nodes["a"], pki.nodes["b"]
        owner = Owner()
        received: list[int] = []
        refused: list[str] = []

        def send(key: int) -> None:
            srv.synchronize(ra.add_local(Thing(key, owner, color="red", size=key)))

        async with server(a, ra) as srv, manager(b, rb) as cli:
            at_cli, _ = await connect_pair(srv, cli, a, b)
            cli.add_refusal_listener(lambda m, s, msg, e: refused.append(str(e)))
            send(1)  # a plan for Thing/sync is made and used
            await rb.wait_for(lambda: 1 in rb.things)
            # On the registry instance: refuses the next message.
            rb.should_listen = _refuse  # type: ignore[method-assign]
            send(2)
            await wait_until(lambda: len(refused) == 1)
            del rb.should_listen
            send(3)
            await rb.wait_for(lambda: 3 in rb.things)
            assert 2 not in rb.things
            # On the object's class: refuses the next message.
            monkeypatch.setattr(Thing, "sync_should_listen_constructed", _refuse)
            send(4)
            await wait_until(lambda: len(refused) == 2)
            monkeypatch.undo()
            # On the registry's class: an override of sync_receive that calls super.
            original = ThingRegistry.sync_receive

            def recording(self: Any, obj: Any, **info: Any) -> Any:
                received.append(obj.id)
                return original(self, obj, **info)

            monkeypatch.setattr(ThingRegistry, "sync_receive", recording)
            send(5)
            await rb.wait_for(lambda: 5 in rb.things)
            assert 4 not in rb.things
            assert received == [5]
            # After the chunk, a call of the application's own runs the hooks as
            # they are now (nothing the chunk's plan lent outlives it).
            calls: list[int] = []
            rb.incoming_sync = lambda obj, **info: calls.append(obj.id)  # type: ignore[method-assign]
            rb.sync_receive(
                rb.things[5], operation=rb.get_operation("sync"), manager=cli,
                sender=at_cli, response_for=None,
            )  # fmt: skip
            assert calls == [5]
            del rb.incoming_sync
            received.clear()
            send(6)
            await rb.wait_for(lambda: 6 in rb.things)
            assert received == [6]
            monkeypatch.undo()
            send(7)
            await rb.wait_for(lambda: 7 in rb.things)
            assert received == [6]
            assert all("installed between messages" in text for text in refused)

    run(scenario())


def test_send_hooks_changed_between_calls_apply_to_the_next(
    pki: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        ra, rb, _ = fresh_registries()
        a, b = pki.nodes["a"], pki.nodes["b"]
        owner = Owner()

        def send(key: int) -> None:
            srv.synchronize(ra.add_local(Thing(key, owner, color="red", size=key)))

        async with server(a, ra) as srv, manager(b, rb) as cli:
            _, at_srv = await connect_pair(srv, cli, a, b)
            send(1)  # the send plan of Thing is made and used
            await rb.wait_for(lambda: 1 in rb.things)
            at_srv.should_send = lambda obj, **info: False  # on the destination
            send(2)
            del at_srv.should_send
            ra.should_send = lambda obj, **info: False  # on the registry instance
            send(3)
            del ra.should_send
            monkeypatch.setattr(Thing, "sync_should_send", lambda self, **info: False)
            send(4)  # on the object's class
            monkeypatch.undo()
            send(5)
            await rb.wait_for(lambda: 5 in rb.things)
            assert sorted(rb.things) == [1, 5]

    run(scenario())


def test_updates_without_a_yield_coalesce_into_one_frame(pki: Any) -> None:
    async def scenario() -> None:
        ra, rb, _ = fresh_registries()
        a, b = pki.nodes["a"], pki.nodes["b"]
        async with server(a, ra) as srv, manager(b, rb) as cli:
            await connect_pair(srv, cli, a, b)
            [protocol] = srv.connections
            before = protocol.conn.out_count
            owner = Owner()
            for size in range(20_000):  # no yield: the queue holds one element
                srv.synchronize(ra.add_local(Thing(1, owner, color="c", size=size)))
            await rb.wait_for(lambda: 1 in rb.things)
            assert rb.things[1].size == 19_999
            assert protocol.conn.out_count - before == 1

    run(scenario())


def test_a_burst_without_a_yield_is_written_while_it_grows(pki: Any) -> None:
    # A batch of distinct objects sent with no yield leaves in frames as it is
    # queued (protocol.EAGER_FRAMES), not only once the loop turns; each object is
    # still one frame, and all of them arrive.
    async def scenario() -> None:
        ra, rb, _ = fresh_registries()
        a, b = pki.nodes["a"], pki.nodes["b"]
        async with server(a, ra) as srv, manager(b, rb) as cli:
            await connect_pair(srv, cli, a, b)
            [protocol] = srv.connections
            before = protocol.conn.out_count
            owner = Owner()
            count = EAGER_FRAMES * 3
            for key in range(count):  # no yield
                srv.synchronize(ra.add_local(Thing(key, owner, color="c", size=key)))
            assert protocol.conn.out_count - before >= EAGER_FRAMES
            await rb.wait_for(lambda: len(rb.things) == count)
            assert protocol.conn.out_count - before == count
            assert all(rb.things[k].size == k for k in range(count))

    run(scenario())
