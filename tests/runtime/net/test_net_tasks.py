"""Owned background tasks: a failure is logged with its traceback, never lost."""

from __future__ import annotations

import asyncio
import logging

from entanglement.network import SyncManager


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
