"""Live cursors in a browser: a Python node and the page that shows its cursors.

``python examples/presence_cursors/serve.py --package-dir DIR`` starts a SyncServer with
the generated ``presence`` registry, accepts WebSocket peers (any ``?user=`` is let in:
this is a demo), serves the page (``index.html``, ``app.js``) and the compiled
TypeScript package (``DIR``: ``tsc -p generated/typescript/presence_sync`` builds it
into ``generated/typescript/presence_sync/dist``) over HTTP, and moves a cursor of its
own (the *bot*) around a circle on the ``map`` board.  It prints one JSON line once it
listens (``{"page": URL, "ws": URL, "bot": UUID}``), then one line per cursor a browser
moves (``{"cursor": {...}}``), and stops when its standard input closes (or on Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import http.server
import json
import math
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "generated"))

from exercise_sync import Side  # noqa: E402
from presence_sync import Beacon, Cursor, Ping, Position  # noqa: E402
from presence_sync.registry import PresenceRegistry  # noqa: E402

from entanglement._hashes import DestHash  # noqa: E402
from entanglement.network import SyncDestinationBase, SyncServer  # noqa: E402
from entanglement.websocket import WebSocketRequest, serve_websocket  # noqa: E402

HERE = Path(__file__).resolve().parent


class PrintingPresence(PresenceRegistry):
    """The presence registry, printing every cursor a browser moves."""

    def __init__(self) -> None:
        super().__init__()
        for cls in (Cursor, Position, Beacon, Ping):
            self.register_syncable(cls.sync_type, cls)

    def incoming_sync(self, obj: Any, **info: Any) -> None:
        super().incoming_sync(obj, **info)
        if isinstance(obj, Cursor):
            cursor = {"participant": str(obj.participant), "board": obj.board}
            print(json.dumps({"cursor": cursor | {"x": obj.x, "y": obj.y}}), flush=True)


def find_destination(request: WebSocketRequest) -> SyncDestinationBase:
    """Every page is a peer of its own (a demo: no authentication)."""
    peer = f"{request.remote_address[0]}:{request.remote_address[1]}"
    return SyncDestinationBase(DestHash.from_string(f"page {peer}"), f"page {peer}")


class Files(http.server.SimpleHTTPRequestHandler):
    """The page from this directory, the package under /presence_sync/."""

    def __init__(self, *args: Any, package: Path, config: bytes, **kwargs: Any) -> None:
        self.package, self.config = package, config
        super().__init__(*args, directory=str(HERE), **kwargs)

    def translate_path(self, path: str) -> str:
        clean = path.split("?")[0]
        if clean.startswith("/presence_sync/"):
            return str(self.package / clean.removeprefix("/presence_sync/"))
        return super().translate_path(path)

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/config.json":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(self.config)))
            self.end_headers()
            self.wfile.write(self.config)
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: stdout carries the JSON lines."""


async def move_bot(registry: PresenceRegistry, bot: Cursor) -> None:
    """The bot's cursor goes round a circle, ten steps a second."""
    step = 0
    while True:
        angle = step * math.pi / 20
        bot.x = round(400 + 150 * math.cos(angle), 1)
        bot.y = round(250 + 150 * math.sin(angle), 1)
        registry.store_synchronize(bot)
        step += 1
        await asyncio.sleep(0.1)


async def main(package: Path, port: int, ws_port: int) -> None:
    registry = PrintingPresence()
    manager = SyncServer(None, 0, registries=[registry])
    bot = Cursor(participant=uuid.uuid4(), board="map", color=0xE4572E, side=Side.STAFF)
    async with manager:
        listener = await serve_websocket(manager, find_destination, port=ws_port)
        ws_url = f"ws://127.0.0.1:{listener.sockets[0].getsockname()[1]}/"
        config = json.dumps({"ws": ws_url, "bot": str(bot.participant)}).encode()
        handler = functools.partial(Files, package=package, config=config)
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            page = f"http://127.0.0.1:{httpd.server_address[1]}/index.html"
            line = {"page": page, "ws": ws_url, "bot": str(bot.participant)}
            print(json.dumps(line), flush=True)
            mover = manager.create_task(move_bot(registry, bot), name="bot")
            await asyncio.to_thread(sys.stdin.read)  # until stdin closes
            mover.cancel()
        finally:
            httpd.shutdown()
            httpd.server_close()
            thread.join()


def cli(argv: list[str] | None = None) -> None:
    """Parse the arguments and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = ROOT / "generated" / "typescript" / "presence_sync" / "dist"
    parser.add_argument("--package-dir", type=Path, default=default)
    parser.add_argument("--port", type=int, default=8000, help="HTTP port (0: any)")
    parser.add_argument("--ws-port", type=int, default=0, help="WebSocket port")
    args = parser.parse_args(argv)
    if not (args.package_dir / "index.js").exists():
        parser.error(
            f"{args.package_dir}/index.js is missing: build the package first "
            "(npx tsc -p generated/typescript/presence_sync)"
        )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(args.package_dir, args.port, args.ws_port))


if __name__ == "__main__":
    cli()
