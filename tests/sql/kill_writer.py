"""An application process that commits batches of items until it is killed.

Usage: ``python kill_writer.py URL PREFIX``; prints the number of each committed batch.
"""

from __future__ import annotations

import sys

import sqlalchemy as sa
from node_app import Item

from entanglement.sql import sync_session_maker


def main(url: str, prefix: str) -> None:
    engine = sa.create_engine(url)
    maker = sync_session_maker(bind=engine)
    batch = 0
    while True:
        with maker() as session:
            session.add_all(Item(label=f"{prefix}{batch}-{i}") for i in range(50))
            session.commit()
        print(batch, flush=True)
        batch += 1


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
