"""Split off destination: owners remember the neighbour's hash, not a destination row.

Revision ID: dc7778ec1ccc
Revises: 5370406b7505

Adds ``sync_owners.dest_hash``, fills it from the destination row that
``destination_id`` references, indexes it and drops ``destination_id`` with its index and
foreign key.  The names of that index and key are looked up rather than assumed, so
databases whose constraints were named by another convention upgrade too.  Batch mode
makes the column drop work on SQLite.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "dc7778ec1ccc"
down_revision = "5370406b7505"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sync_owners", sa.Column("dest_hash", sa.String(60), nullable=True))
    op.execute(
        "UPDATE sync_owners SET dest_hash = (SELECT d.dest_hash FROM sync_destinations d"
        " WHERE d.id = sync_owners.destination_id)"
    )
    op.create_index("ix_sync_owners_dest_hash", "sync_owners", ["dest_hash"])
    inspector = sa.inspect(op.get_bind())
    for index in inspector.get_indexes("sync_owners"):
        if index["column_names"] == ["destination_id"] and index["name"]:
            op.drop_index(index["name"], table_name="sync_owners")
    fk_names = [
        fk["name"]
        for fk in inspector.get_foreign_keys("sync_owners")
        if fk["constrained_columns"] == ["destination_id"] and fk["name"]
    ]
    with op.batch_alter_table("sync_owners") as batch:
        for name in fk_names:
            batch.drop_constraint(name, type_="foreignkey")
        batch.drop_column("destination_id")


def downgrade() -> None:
    with op.batch_alter_table("sync_owners") as batch:
        batch.add_column(sa.Column("destination_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "sync_owners_destination_id_fkey",
            "sync_destinations",
            ["destination_id"],
            ["id"],
            ondelete="CASCADE",
        )
    op.execute(
        "UPDATE sync_owners SET destination_id = (SELECT d.id FROM sync_destinations d"
        " WHERE d.dest_hash = sync_owners.dest_hash)"
    )
    op.create_index("ix_sync_owners_destination_id", "sync_owners", ["destination_id"])
    op.drop_index("ix_sync_owners_dest_hash", table_name="sync_owners")
    with op.batch_alter_table("sync_owners") as batch:
        batch.drop_column("dest_hash")
