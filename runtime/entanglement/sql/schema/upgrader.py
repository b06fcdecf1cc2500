"""The generic Alembic upgrade procedure (§12.10), at the original's module path.

See :func:`entanglement.sql.schema.upgrade.upgrade_database`: the decision behind
``create_bookkeeping`` (upgrade a versioned database, stamp a pre-Alembic one, create
a new one), for any metadata and script location.
"""

from entanglement.sql.schema.upgrade import upgrade_database

__all__ = ["upgrade_database"]
