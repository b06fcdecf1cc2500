"""A persisted destination reached over WebSocket (PROTOCOL.md §12.7, §16.1).

:class:`SqlWebSocketDestination` is a :class:`~entanglement.sql.SqlSyncDestination`
row (so ``connected()`` runs the connect-time resynchronisation of §12.8 and
``sync_manager_destinations`` loads it) that connects out to a WebSocket endpoint
instead of a TLS port.  Choice: the URL is stored in the ``host`` column (the table of
§12.1 has no other place for it, and a URL cannot be mistaken for a host name); the row's
``type`` is ``SqlWebSocketDestination`` (single-table inheritance), so this module must
be imported before such rows are loaded.
"""

from __future__ import annotations

from typing import Any

from entanglement.sql import SqlSyncDestination
from entanglement.websocket import WebSocketConnectMixin

__all__ = ["SqlWebSocketDestination"]


class SqlWebSocketDestination(WebSocketConnectMixin, SqlSyncDestination):
    """A persisted peer whose WebSocket endpoint is ``url`` (kept in ``host``).

    Args:
        dest_hash: the peer's identity.
        name: a name for logs.
        url: the endpoint (``ws://`` or ``wss://``).
        **kwargs: ``bw_per_sec``.
    """

    __mapper_args__ = {  # noqa: RUF012 - read by SQLAlchemy
        "polymorphic_identity": "SqlWebSocketDestination",
    }

    def __init__(self, dest_hash: Any, name: str, url: str, **kwargs: Any) -> None:
        super().__init__(dest_hash, name, host=url, **kwargs)

    @property
    def websocket_url(self) -> str | None:
        """The endpoint (the ``host`` column)."""
        return self.host

    def __repr__(self) -> str:
        return f"<SqlWebSocketDestination {self.name!r} {self.host}>"
