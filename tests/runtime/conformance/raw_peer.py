"""A minimal "foreign" entanglement peer written from PROTOCOL.md alone.

It deliberately imports nothing from ``entanglement``: only ``ssl``, asyncio streams,
``struct`` and ``json`` (plus ``hashlib``/``base64`` to compute identities the way §1
describes).  It speaks the stream framing of §2.1 (8-byte big-endian header: payload
length, flags; JSON payload) and counts frames implicitly as §2.3 says: every frame it
writes consumes its out counter, every frame it reads its in counter, from 0.

It is used both as a TLS client of a real SyncServer (:meth:`RawPeer.connect`) and as a
TLS server our SyncManager connects to (:class:`RawServer`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import ssl
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HEADER = struct.Struct(">II")
RESPONSE_NEEDED = 0x1


def hash_text_of_der(der: bytes) -> str:
    """The §1.4 text form of SHA-256(DER): URL-safe base64 *with* padding."""
    digest = hashlib.sha256(der).digest()
    return "ni:///sha-256;" + base64.urlsafe_b64encode(digest).decode("ascii")


def unix_identity_text(path: str, pid: int, uid: int, gid: int) -> str:
    """§1.3: SHA-256 of "{path}:{pid}:{uid}:{gid}", ':' in the path replaced by '_'."""
    text = f"{path.replace(':', '_')}:{pid}:{uid}:{gid}"
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "ni:///sha-256;" + base64.urlsafe_b64encode(digest).decode("ascii")


def hash_text_of_pem(path: Path) -> str:
    """Identity text of the first certificate of a PEM file (§1.2)."""
    return hash_text_of_der(ssl.PEM_cert_to_DER_cert(Path(path).read_text()))


@dataclass
class Frame:
    """One frame as read: its implicit number, flags, exact payload and the object."""

    number: int
    flags: int
    payload: bytes
    msg: dict[str, Any]

    @property
    def sync_type(self) -> str | None:
        return self.msg.get("_sync_type")


class RawPeer:
    """One TLS connection, framed and counted by hand."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer
        self.out_count = 0
        self.in_count = 0
        self.frames: list[Frame] = []

    @classmethod
    async def connect(cls, port: int, cert: Path, key: Path, cafile: Path) -> RawPeer:
        """Open a TLS connection to 127.0.0.1:port presenting ``cert``."""
        ctx = ssl.create_default_context(cafile=str(cafile))
        ctx.load_cert_chain(str(cert), str(key))
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=ctx, server_hostname="127.0.0.1"
        )
        return cls(reader, writer)

    @classmethod
    async def connect_unix(cls, path: str) -> RawPeer:
        """Open a unix-socket connection (same framing, no TLS)."""
        reader, writer = await asyncio.open_unix_connection(path)
        return cls(reader, writer)

    @property
    def peer_hash_text(self) -> str:
        """Identity of the other side, from its certificate as presented (§1.2)."""
        der = self.writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        return hash_text_of_der(der)

    # -- writing -----------------------------------------------------------------

    def send_payload(self, payload: bytes, flags: int = 0) -> int:
        """Write one frame with this exact payload; return its message number."""
        self.writer.write(HEADER.pack(len(payload), flags) + payload)
        number = self.out_count
        self.out_count += 1
        return number

    def send(self, msg: dict[str, Any], flags: int = 0) -> int:
        """Write ``msg`` as the original does (json.dumps defaults); return its number."""
        return self.send_payload(json.dumps(msg).encode("utf-8"), flags)

    def request(self, msg: dict[str, Any]) -> int:
        """Send with RESPONSE_NEEDED; return the number the answer must name."""
        return self.send(msg, RESPONSE_NEEDED)

    # -- reading -----------------------------------------------------------------

    async def receive(self) -> Frame:
        """Read the next frame (and count it)."""
        header = await self.reader.readexactly(HEADER.size)
        length, flags = HEADER.unpack(header)
        payload = await self.reader.readexactly(length)
        frame = Frame(self.in_count, flags, payload, json.loads(payload))
        self.in_count += 1
        self.frames.append(frame)
        return frame

    async def receive_until(self, predicate: Any) -> list[Frame]:
        """Read frames until one satisfies ``predicate``; return all read, in order."""
        read = []
        while True:
            frame = await self.receive()
            read.append(frame)
            if predicate(frame):
                return read

    async def receive_requests(self, count: int) -> list[Frame]:
        """Read until ``count`` frames with RESPONSE_NEEDED arrived; return those."""
        found: list[Frame] = []
        while len(found) < count:
            frame = await self.receive()
            if frame.flags & RESPONSE_NEEDED:
                found.append(frame)
        return found

    async def barrier(self) -> list[Frame]:
        """Everything the peer sends before it has processed all we sent so far.

        Sends a request the peer cannot answer with data (an unknown class, answered
        by an error) and reads up to its answer.
        """
        number = self.request({"_sync_type": "NoSuchClassAnywhere"})
        frames = await self.receive_until(lambda f: number in _answers(f))
        return frames[:-1]

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await self.writer.wait_closed()


def _answers(frame: Frame) -> list[int]:
    return list(frame.msg.get("_resp_for", [])) + list(
        frame.msg.get("_no_resp_for", [])
    )


def answers(frame: Frame) -> list[int]:
    """The request numbers a frame answers (``_resp_for`` and ``_no_resp_for``)."""
    return _answers(frame)


class RawServer:
    """A TLS listener on 127.0.0.1 requiring client certificates; one RawPeer each."""

    def __init__(self, cert: Path, key: Path, cafile: Path) -> None:
        self.ctx = ssl.create_default_context(
            ssl.Purpose.CLIENT_AUTH, cafile=str(cafile)
        )
        self.ctx.verify_mode = ssl.CERT_REQUIRED
        self.ctx.load_cert_chain(str(cert), str(key))
        self.peers: asyncio.Queue[RawPeer] = asyncio.Queue()
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        """Listen; return the port."""
        self.server = await asyncio.start_server(
            self._accepted, "127.0.0.1", 0, ssl=self.ctx
        )
        return int(self.server.sockets[0].getsockname()[1])

    async def _accepted(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await self.peers.put(RawPeer(reader, writer))

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
