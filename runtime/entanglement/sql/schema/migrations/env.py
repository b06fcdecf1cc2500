"""Alembic environment for the bookkeeping tables.

Only the online mode is supported: :func:`entanglement.sql.schema.upgrade.upgrade_database` passes
an open connection in ``config.attributes["connection"]``.  The version table is
``entanglement_version`` (as in the original) unless the caller sets another one.
"""

from __future__ import annotations

from alembic import context

from entanglement.sql.schema.tables import bookkeeping_metadata

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=config.attributes.get("target_metadata", bookkeeping_metadata),
    version_table=config.attributes.get("version_table", "entanglement_version"),
    compare_type=True,
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
