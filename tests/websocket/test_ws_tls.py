"""``wss://``: the WebSocket transport inside TLS, with the test PKI; and URLs that can
never work end the connection attempts at once."""

from __future__ import annotations

import logging
import ssl
import uuid
from typing import Any

import pytest
from exercise_sync import Side
from presence_sync import Cursor
from ws_helpers import (
    Sessions,
    client,
    run,
    server,
    user_hash,
    wait_until,
    ws_destination,
)

from entanglement.websocket import serve_websocket


def test_objects_over_wss(pki: dict[str, Any]) -> None:
    node = pki["a"]
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(node.cert, node.key)
    client_ctx = ssl.create_default_context(cafile=str(node.cafile))

    async def scenario() -> None:
        srv, rs = server()
        cli, rc = client()
        async with srv, cli:
            listener = await serve_websocket(srv, Sessions("ann"), ssl=server_ctx)
            port = listener.sockets[0].getsockname()[1]
            dest = ws_destination(f"wss://127.0.0.1:{port}/?user=ann", ssl=client_ctx)
            await cli.add_destination(dest)  # type: ignore[misc]
            await wait_until(lambda: srv.dest_by_hash(user_hash("ann")) is not None)
            who = uuid.uuid4()
            rs.store_synchronize(Cursor(participant=who, board="b", side=Side.RED))
            await wait_until(lambda: (who, "b") in rc.store_for_class(Cursor))

    run(scenario())


def test_untrusted_server_certificate_is_refused_and_retried(
    pki: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    node = pki["a"]
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(node.cert, node.key)
    untrusting = ssl.create_default_context()  # the system CAs: not our test CA

    async def scenario() -> None:
        srv, _ = server()
        cli, _ = client(backoff=0.05)
        sessions = Sessions("ann")
        async with srv, cli:
            listener = await serve_websocket(srv, sessions, ssl=server_ctx)
            port = listener.sockets[0].getsockname()[1]
            url = f"wss://127.0.0.1:{port}/?user=ann"
            cli.add_destination(ws_destination(url, ssl=untrusting))
            await wait_until(
                lambda: caplog.text.count("certificate verify failed") >= 2
            )
            assert not srv.connections
            assert not sessions.requests  # refused before any HTTP request

    with caplog.at_level(logging.WARNING, logger="entanglement"):
        run(scenario())


def test_a_url_that_is_not_a_websocket_url_stops_the_attempts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        cli, _ = client(backoff=0.01)
        async with cli:
            task = cli.add_destination(ws_destination("http://127.0.0.1:1/"))
            assert task is not None
            with pytest.raises(ValueError, match=r"isn't a valid URI"):
                await task
            assert "giving up connecting" in caplog.text

    with caplog.at_level(logging.ERROR, logger="entanglement"):
        run(scenario())
