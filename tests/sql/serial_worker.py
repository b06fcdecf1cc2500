"""A separate process that commits serials in a loop (used by test_sql_serials).

Usage: ``python serial_worker.py URL COUNT``.  Each transaction allocates a serial, writes
one probe row carrying it, dawdles a little so that transactions overlap, and commits.
"""

from __future__ import annotations

import random
import sys
import time

import sqlalchemy as sa

from entanglement.sql.send.serials import allocate_serial

probe = sa.table("probe", sa.column("serial", sa.Integer))


def main(url: str, count: int) -> None:
    engine = sa.create_engine(
        url, connect_args={"timeout": 30} if url.startswith("sqlite") else {}
    )
    for _ in range(count):
        with engine.begin() as conn:
            serial = allocate_serial(conn)
            time.sleep(random.uniform(0, 0.004))
            conn.execute(sa.insert(probe).values(serial=serial))
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
