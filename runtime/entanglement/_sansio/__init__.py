"""The sans-IO core of the entanglement runtime.

Framing (:mod:`.framing`), the dirty queue (:mod:`.queue`), response bookkeeping
(:mod:`.context`) and per-connection state (:mod:`.connection`, its two halves in
:mod:`.incoming` and :mod:`.outgoing`).  Nothing in this package
imports asyncio, ssl or socket (``tests/runtime/sansio/test_no_io.py`` enforces it): the
drivers in :mod:`entanglement.protocol` and :mod:`entanglement.network` move the bytes.
"""

from entanglement._sansio.connection import (
    NEED_DATA,
    InvalidMessage,
    MessageReceived,
    SyncConnection,
)
from entanglement._sansio.context import ResponseContext
from entanglement._sansio.framing import (
    MAX_PAYLOAD,
    RESPONSE_NEEDED,
    FrameBuffer,
    JsonCodec,
    decode_message,
    encode_frame,
    encode_message,
)
from entanglement._sansio.queue import DirtyQueue, QueueElement

__all__ = [
    "MAX_PAYLOAD",
    "NEED_DATA",
    "RESPONSE_NEEDED",
    "DirtyQueue",
    "FrameBuffer",
    "InvalidMessage",
    "JsonCodec",
    "MessageReceived",
    "QueueElement",
    "ResponseContext",
    "SyncConnection",
    "decode_message",
    "encode_frame",
    "encode_message",
]
