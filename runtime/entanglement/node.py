"""``entanglegen node``: a synchronising node over an SQL database (PROTOCOL.md §17.3).

Usage::

    entanglegen node [--db URL] [--base module.Name ...] [-v] COMMAND ...
      add    --hash TEXT [--host HOST] [--port PORT] [--name NAME]
      remove --hash TEXT
      list
      serve  --cert PEM --key PEM --ca PEM --listen HOST:PORT [--port PORT] [--poll S]
             [--max-backoff S]
      upgrade

``--db`` defaults to ``sqlite:///entanglement.db`` (a file in the current directory).
``--base`` names a registry or a declarative base by dotted path (``pkg.models.Base``,
importable from the current directory as with ``python -m``);
its tables are created, and ``serve`` synchronises its classes.  The bookkeeping tables
are always created or upgraded.  A generated package with migrations
(``entanglegen migrations new``) gets its tables from its revisions on an empty
database; ``upgrade`` applies its newer revisions (and the bookkeeping's), and ``serve``
refuses a database that is behind or ahead of them: one line saying what to run, exit
status 1 (:mod:`entanglement.sql.schema.upgrade`).

``serve`` listens with TLS, connects to the stored destinations, re-reads the
destination table every ``--poll`` seconds (1 s) to pick up added or removed ones, and
pushes rows that other processes committed to the database (see
:mod:`entanglement.sql.resync.watch`).  SIGINT/SIGTERM close every connection and exit 0.

Choices where the original's CLI differs (§17.3, quirk 49): sub-commands instead of
mode flags; ``--port`` on ``add`` is stored per destination (quirk 20); a missing hash
is an argument error; the monitor loop works.  Errors (bad URL, unknown module, bad hash,
unreadable certificate) are one line on stderr and exit status 2, never a traceback.

Database faults (issue 10, items 10 and 11): ``add``, ``remove`` and ``serve`` check at
start that the database accepts writes, and say once that it does not (exit status 1,
one line naming the file).  While serving, a busy or locked database (another writer
holding the SQLite file past the driver's busy timeout) is transient: the periodic
reads are retried with backoff, with one warning per episode naming the database and
one line when it answers again (:mod:`entanglement.sql.receive.transient`); the node never
exits for it.

This module is the command line and the commands; opening the database, loading the
bases and the one-line errors at start are :mod:`entanglement._node_db`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from typing import Any

import sqlalchemy as sa

from entanglement._hashes import DestHash
from entanglement._node_db import NodeError, open_engine, prepare

__all__ = ["main"]

log = logging.getLogger("entanglement.node")
DEFAULT_DB = "sqlite:///entanglement.db"
DEFAULT_PORT = 9120


def main(argv: list[str] | None = None) -> int:
    """Run ``entanglegen node``.

    Args:
        argv: the arguments after ``node`` (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 1 when the database cannot be written (or,
        for ``serve`` and ``upgrade``, its tables need migrating), 2 on a user error.
    """
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    engine = None
    try:
        engine = open_engine(args.db)
        registries = prepare(
            args.base, engine, writes=args.writes, wait_busy=args.run is _cmd_serve
        )
        return int(args.run(args, engine, registries))
    except NodeError as exc:
        print(f"entanglegen node: error: {exc}", file=sys.stderr)
        return exc.status
    finally:
        if engine is not None:
            engine.dispose()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="entanglegen node",
        description="A synchronising node over an SQL database: manage its peers, serve, upgrade.",
    )
    parser.add_argument(
        "--db", default=DEFAULT_DB, help=f"database URL (default {DEFAULT_DB})"
    )
    parser.add_argument(
        "--base",
        action="append",
        default=[],
        metavar="module.Name",
        help="registry or declarative base to load (repeatable)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="store a destination")
    add.add_argument(
        "--hash", required=True, type=_hash, help="the peer's CertHash text"
    )
    add.add_argument(
        "--host", help="where to connect (omit: accept its connections only)"
    )
    add.add_argument("--port", type=int, help="TCP port to connect to (with --host)")
    add.add_argument("--name", help="a name for the peer, shown in logs and list")
    add.set_defaults(run=_cmd_add, writes=True)
    remove = sub.add_parser("remove", help="delete a stored destination")
    remove.add_argument(
        "--hash", required=True, type=_hash, help="the CertHash text of the peer"
    )
    remove.set_defaults(run=_cmd_remove, writes=True)
    sub.add_parser("list", help="print the stored destinations").set_defaults(
        run=_cmd_list, writes=False
    )
    serve = sub.add_parser("serve", help="run the node")
    serve.add_argument("--cert", required=True, help="this node's certificate (PEM)")
    serve.add_argument("--key", required=True, help="its private key (PEM)")
    serve.add_argument(
        "--ca", required=True, help="CA certificates that sign peers (PEM)"
    )
    serve.add_argument(
        "--listen",
        required=True,
        type=_address,
        metavar="HOST:PORT",
        help="TLS address to accept connections on",
    )
    serve.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"default port of destinations without one ({DEFAULT_PORT})",
    )
    serve.add_argument("--poll", type=float, default=1.0, help="seconds between checks")
    serve.add_argument(
        "--max-backoff",
        type=float,
        metavar="S",
        help="longest wait between connection attempts (default 600)",
    )
    serve.set_defaults(run=_cmd_serve, writes=True)
    sub.add_parser(
        "upgrade", help="apply the migrations of the bookkeeping and of each --base"
    ).set_defaults(run=_cmd_upgrade, writes=True)
    return parser


def _hash(text: str) -> DestHash:
    try:
        return DestHash.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host or "0.0.0.0", int(port)


# -- destinations ------------------------------------------------------------------------


def _cmd_add(args: argparse.Namespace, engine: sa.Engine, registries: list[Any]) -> int:
    from entanglement.sql import SqlSyncDestination

    with sa.orm.Session(engine) as session:
        if _find(session, args.hash) is not None:
            raise NodeError(f"destination {args.hash} already exists")
        name = args.name or args.host or "incoming"
        session.add(SqlSyncDestination(args.hash, name, host=args.host, port=args.port))
        session.commit()
    print(f"added {args.hash}")
    return 0


def _cmd_remove(
    args: argparse.Namespace, engine: sa.Engine, registries: list[Any]
) -> int:
    with sa.orm.Session(engine) as session:
        dest = _find(session, args.hash)
        if dest is None:
            raise NodeError(f"no destination {args.hash}")
        session.delete(dest)
        session.commit()
    print(f"removed {args.hash}")
    return 0


def _cmd_list(
    args: argparse.Namespace, engine: sa.Engine, registries: list[Any]
) -> int:
    from entanglement.sql import SqlSyncDestination

    with sa.orm.Session(engine) as session:
        for dest in session.scalars(
            sa.select(SqlSyncDestination).order_by(SqlSyncDestination.id)
        ):
            where = (
                f"{dest.host}:{dest.port or '-'}" if dest.host else "(incoming only)"
            )
            print(f"{dest.dest_hash}  {dest.name}  {where}")
    return 0


def _find(session: sa.orm.Session, dest_hash: DestHash) -> Any:
    from entanglement.sql import SqlSyncDestination

    return session.scalars(
        sa.select(SqlSyncDestination).where(SqlSyncDestination.dest_hash == dest_hash)
    ).first()


# -- serve -------------------------------------------------------------------------------


def _cmd_serve(
    args: argparse.Namespace, engine: sa.Engine, registries: list[Any]
) -> int:
    from entanglement.sql import SqlSyncRegistry
    from entanglement.sql.schema.upgrade import UpgradeError, serve_refusal

    for path in (args.cert, args.key, args.ca):
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise NodeError(f"cannot read {path}: {exc.strerror}") from None
    try:
        refusal = serve_refusal(engine, args.base)
    except UpgradeError as exc:
        raise NodeError(str(exc)) from None
    if refusal is not None:
        print(f"entanglegen node: error: {refusal}", file=sys.stderr)
        return 1
    if not registries:
        registries = [SqlSyncRegistry(bind=engine)]
    return asyncio.run(_serve(args, registries))


def _cmd_upgrade(
    args: argparse.Namespace, engine: sa.Engine, registries: list[Any]
) -> int:
    from entanglement.sql.schema.upgrade import UpgradeError, upgrade_bases

    try:
        lines = upgrade_bases(engine, args.base)
    except UpgradeError as exc:
        print(f"entanglegen node: error: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


async def _serve(args: argparse.Namespace, registries: list[Any]) -> int:
    from entanglement.network import SyncServer
    from entanglement.sql import sync_manager_destinations
    from entanglement.sql.receive.transient import (
        FaultEpisodes,
        database_name,
        is_transient,
    )
    from entanglement.sql.resync.watch import CommitWatcher
    from entanglement.sql.send.session import rollback_keeping_destinations

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        manager = SyncServer(
            args.cert, args.port, key=args.key, cafile=args.ca, registries=registries
        )
    except (OSError, ValueError) as exc:
        raise NodeError(f"cannot load the certificate: {exc}") from None
    if args.max_backoff is not None:
        manager.max_backoff = max(args.max_backoff, manager.initial_backoff)
    host, port = args.listen
    try:
        await manager.listen_ssl(port, host)
    except OSError as exc:
        await manager.aclose()
        raise NodeError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    log.info("node %s listening on %s:%d", manager.cert_hash, host, port)
    session: Any = getattr(manager, "session")  # noqa: B009 - set by the SQL registry
    episodes = FaultEpisodes(database_name(session.get_bind()), log, args.poll)
    watcher: CommitWatcher | None = None
    try:
        while not stop.is_set():
            delay = args.poll
            try:
                if watcher is None:  # reads the database too
                    watcher = CommitWatcher(manager, episodes)
                sync_manager_destinations(manager)
                watcher.poll()
                episodes.succeeded()
            except sa.exc.DBAPIError as exc:
                if not is_transient(exc):
                    raise
                rollback_keeping_destinations(session)  # (the live destinations)
                delay = episodes.failed(exc, "reading destinations and commits")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await stop.wait()
    finally:
        log.info("stopping: closing %d connection(s)", len(manager.connections))
        await manager.aclose()
        session.close()
    log.info("stopped")
    return 0
