"""Transient and permanent database faults of a long-running node (``entanglegen node``).

A node re-reads its database periodically (destinations, commits of other processes).
Some failures of that access are *transient* and must be ridden out, never turned into
an exit: another writer holding the SQLite file longer than the driver's busy timeout
(``SQLITE_BUSY``/``SQLITE_LOCKED``), a PostgreSQL lock wait, serialisation failure or
deadlock victim, a server connection dropped by a restart.  :class:`FaultEpisodes` turns
a run of such failures into one warning when it starts (naming the database), a growing
delay between attempts (capped), and one info line when the database answers again.

Other failures are *permanent*.  The one a user meets first is a database that refuses
writes (a read-only SQLite file or ``?mode=ro`` URI, a PostgreSQL read-only transaction
or a role without write rights): :func:`write_refusal` finds it at start with a write
that changes nothing, so the node can say so once instead of failing on every
connection.

Choices (the spec is silent): the probe is ``UPDATE sync_destinations SET id = id
WHERE 1 = 0`` in a transaction that is rolled back; SQLite and PostgreSQL both refuse it
on a read-only database although it touches no row.  The backoff doubles from the
node's poll interval up to :data:`MAX_DELAY` seconds.

An answer owed to a neighbour (an IHave's rows and YouHave) that meets a transient fault
cannot simply fail: the neighbour would wait for it for as long as the link lasts.
:func:`drop_link_on_fault` drops the link instead (one warning), so the resync after
reconnecting asks again, as a received message that cannot be stored does; an answer
cut by the loss of its link ends with an info line (the loss itself is logged).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable
from typing import Any

import sqlalchemy as sa

__all__ = [
    "MAX_DELAY",
    "FaultEpisodes",
    "database_name",
    "drop_link_on_fault",
    "first_line",
    "is_read_only",
    "is_transient",
    "write_refusal",
]

MAX_DELAY = 10.0
log = logging.getLogger("entanglement")

# SQLite primary result codes (extended codes keep them in the low byte)
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 5, 6, 8
# PostgreSQL SQLSTATEs: serialization_failure, deadlock_detected, lock_not_available,
# query_canceled (statement/lock timeout), admin/crash shutdown, cannot_connect_now
_PG_TRANSIENT = frozenset(
    {"40001", "40P01", "55P03", "57014", "57P01", "57P02", "57P03"}
)
# read_only_sql_transaction, insufficient_privilege
_PG_READ_ONLY = frozenset({"25006", "42501"})


def _driver_error(exc: BaseException) -> BaseException:
    orig = getattr(exc, "orig", None)
    return orig if isinstance(orig, BaseException) else exc


def _sqlite_code(exc: BaseException) -> int | None:
    code = getattr(_driver_error(exc), "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def _sqlstate(exc: BaseException) -> str | None:
    orig = _driver_error(exc)
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return state if isinstance(state, str) else None


def is_transient(exc: BaseException) -> bool:
    """Whether a database error is worth retrying (busy, locked, connection lost)."""
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if _sqlite_code(exc) in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return True
    state = _sqlstate(exc)
    return state is not None and (state in _PG_TRANSIENT or state.startswith("08"))


def is_read_only(exc: BaseException) -> bool:
    """Whether a database error says that the database refuses writes."""
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    return _sqlite_code(exc) == _SQLITE_READONLY or _sqlstate(exc) in _PG_READ_ONLY


def first_line(exc: BaseException) -> str:
    """The driver's message of a database error, first line only."""
    lines = str(_driver_error(exc)).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def database_name(engine: sa.Engine) -> str:
    """The database as a user named it: the SQLite file, else the URL without password."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database:
        return url.database.removeprefix("file:")
    return url.render_as_string(hide_password=True)


def write_refusal(engine: sa.Engine) -> str | None:
    """The driver's reason if the database refuses writes, else None.

    Needs the bookkeeping tables.  Errors other than a refusal propagate.
    """
    probe = sa.text("UPDATE sync_destinations SET id = id WHERE 1 = 0")
    try:
        with engine.connect() as conn:
            conn.execute(probe)
            conn.rollback()
    except sa.exc.DBAPIError as exc:
        if is_read_only(exc):
            return first_line(exc)
        raise
    return None


class FaultEpisodes:
    """Logging and backoff for runs of transient failures of one database.

    Args:
        name: the database as shown in logs (see :func:`database_name`).
        logger: where the episode lines go.
        base_delay: the delay after the first failure, doubled after each further one.
    """

    def __init__(self, name: str, logger: logging.Logger, base_delay: float) -> None:
        self.name = name
        self.log = logger
        self.base_delay = max(base_delay, 0.05)
        self.failures = 0
        self.episodes = 0
        self._since = 0.0

    @property
    def active(self) -> bool:
        """Whether the last access failed."""
        return self.failures > 0

    def failed(self, exc: BaseException, what: str) -> float:
        """Record a transient failure of ``what``; returns the delay before a retry."""
        if not self.failures:
            self.episodes += 1
            self._since = time.monotonic()
            self.log.warning(
                "database %s is unavailable (%s: %s); %s is retried with backoff",
                self.name,
                type(_driver_error(exc)).__name__,
                first_line(exc),
                what,
            )
        self.failures += 1
        return float(min(MAX_DELAY, self.base_delay * 2 ** (self.failures - 1)))

    def succeeded(self) -> None:
        """Record a successful access; ends an episode with one line."""
        if self.failures:
            self.log.info(
                "database %s is available again after %.1f s (%d failed attempt(s))",
                self.name,
                time.monotonic() - self._since,
                self.failures,
            )
        self.failures = 0


async def drop_link_on_fault(answer: Awaitable[Any], protocol: Any, what: str) -> None:
    """Await ``answer``; on a transient database fault, drop ``protocol``'s link.

    Args:
        answer: the work owed to the neighbour at the other end of ``protocol``.
        protocol: the connection it answers on.
        what: what ``answer`` does, for the warning.

    Raises:
        sqlalchemy.exc.DBAPIError: a fault that is not transient (as any other error).
    """
    from entanglement._wire_errors import SyncNotConnected

    try:
        await answer
    except SyncNotConnected as exc:  # the link went first: nothing is owed any more
        log.info("%s: %s ended with the connection: %s", _peer(protocol), what, exc)
    except sa.exc.DBAPIError as exc:
        if not is_transient(exc):
            raise
        log.warning(
            "%s: storage unavailable while %s (%s); reconnecting",
            _peer(protocol),
            what,
            first_line(exc),
        )
        protocol.abort()


def _peer(protocol: Any) -> str:
    return str(getattr(protocol, "peer_name", "?"))
