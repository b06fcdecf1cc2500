"""entanglegen: tombstone index everywhere, per-destination port.

Revision ID: 4a6e2f0c9d1b
Revises: dc7778ec1ccc

* ``sync_deleted_serial_idx`` is created where it is missing: databases the original made
  with ``create_all`` lack it (quirk 39) and then only got stamped.
* ``sync_destinations.port`` (nullable): the port to connect to for this destination; NULL
  means the manager's default port (quirk 20).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "4a6e2f0c9d1b"
down_revision = "dc7778ec1ccc"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    index_names = {ix["name"] for ix in inspector.get_indexes("sync_deleted")}
    if "sync_deleted_serial_idx" not in index_names:
        op.create_index(
            "sync_deleted_serial_idx", "sync_deleted", ["sync_owner_id", "sync_serial"]
        )
    columns = {col["name"] for col in inspector.get_columns("sync_destinations")}
    if "port" not in columns:
        op.add_column(
            "sync_destinations", sa.Column("port", sa.Integer(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_destinations") as batch:
        batch.drop_column("port")
