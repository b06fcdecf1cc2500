"""An application committing rows into a node's database (run as its own process).

Usage: ``evo_app.py DB_URL PACKAGE OPS_JSON`` with the package's version on PYTHONPATH.
``OPS_JSON`` is a list of ``["add", {values}]``, ``["set", id, {values}]`` and
``["delete", id]``; each is committed on its own, through the runtime's sync session
(so the node process pushes it to its peers, see ``entanglement.sql.resync.watch``).  A
``tool`` value names a member of the package's ``Tool`` enum by value.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

import sqlalchemy as sa

from entanglement.sql import sync_session_maker


def _values(package: Any, values: dict[str, Any]) -> dict[str, Any]:
    if "tool" in values:
        values = {**values, "tool": package.Tool(values["tool"])}
    return values


def main(db: str, name: str, ops: list[Any]) -> None:
    package = importlib.import_module(name)
    stroke = package.Stroke
    engine = sa.create_engine(db)
    try:
        maker = sync_session_maker(bind=engine)
        for op in ops:
            with maker() as session:
                if op[0] == "add":
                    session.add(stroke(**_values(package, op[1])))
                elif op[0] == "set":
                    row = session.get(stroke, op[1])
                    for key, value in _values(package, op[2]).items():
                        setattr(row, key, value)
                else:
                    session.delete(session.get(stroke, op[1]))
                session.commit()
    finally:
        engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))
