"""Owned background tasks: a failure is logged with its traceback, never lost; an
ordinary loss (a destination gone) is one line."""

from __future__ import annotations

import asyncio
import logging

from entanglement.interface import (
    Synchronizable,
    SyncNotConnected,
    SyncRegistry,
    sync_property,
)
from entanglement.network import SyncDestination, SyncManager


def test_failing_owned_task_is_logged(caplog) -> None:
    async def boom() -> None:
        raise RuntimeError("the answering task broke")

    async def scenario() -> None:
        async with asyncio.timeout(10):
            async with SyncManager(None, None) as manager:
                task = manager.create_task(boom(), name="i-have-answer")
                await asyncio.wait([task])

    with caplog.at_level(logging.ERROR, logger="entanglement"):
        asyncio.run(scenario())
    record = next(r for r in caplog.records if "i-have-answer" in r.getMessage())
    assert record.levelno == logging.ERROR
    assert "the answering task broke" in record.getMessage()
    assert record.exc_info is not None


class Ping(Synchronizable):
    sync_primary_keys = ("id",)
    id: int = sync_property()


def _registry() -> SyncRegistry:
    registry = SyncRegistry()
    registry.register_syncable("Ping", Ping)
    return registry


def test_a_task_sending_to_a_destination_gone_is_one_info_line(caplog) -> None:
    # An answer to a peer that disconnected meanwhile: synchronize raises
    # SyncNotConnected in the task.  An ordinary loss (the connection logs and
    # handles it), so one INFO line naming the task and the destination, no traceback.
    async def scenario() -> None:
        async with asyncio.timeout(10):
            async with SyncManager(None, None, registries=[_registry()]) as manager:
                gone = SyncDestination(bytes(range(32)), "gone")  # no host: no connect
                manager.add_destination(gone)

                async def answer() -> None:
                    ping = Ping()
                    ping.id = 1
                    manager.synchronize(ping, destinations=[gone])

                task = manager.create_task(answer(), name="answer to gone")
                await asyncio.wait([task])
                assert isinstance(task.exception(), SyncNotConnected)

    with caplog.at_level(logging.INFO, logger="entanglement"):
        asyncio.run(scenario())
    [record] = [r for r in caplog.records if "answer to gone" in r.getMessage()]
    assert record.levelno == logging.INFO
    assert "gone" in record.getMessage().split("ended:")[1]
    assert record.exc_info is None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
