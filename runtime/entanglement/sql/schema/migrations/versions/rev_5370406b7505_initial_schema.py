"""Initial schema (the original's first revision, 2018-03-29).

Revision ID: 5370406b7505
Revises:
Create Date: 2018-03-29

Re-created from the published table layout (PROTOCOL.md §12.1) so that databases made by
the original carry the same revision ids and upgrade through our scripts.  GUID columns
are plain 32-character strings here: a migration must not depend on today's Python types.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "5370406b7505"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_destinations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dest_hash", sa.String(60), nullable=False, unique=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("host", sa.String(128), nullable=True),
        sa.Column("bw_per_sec", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
    )
    op.create_table(
        "sync_serial",
        sa.Column("serial", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("timestamp", sa.DateTime(), nullable=True),
    )
    op.create_table(
        "sync_owners",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column(
            "destination_id",
            sa.Integer(),
            sa.ForeignKey(
                "sync_destinations.id",
                ondelete="CASCADE",
                name="sync_owners_destination_id_fkey",
            ),
            nullable=True,
        ),
        sa.Column("incoming_serial", sa.Integer(), nullable=False),
        sa.Column("incoming_epoch", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outgoing_epoch", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sync_serial", sa.Integer(), nullable=False),
    )
    op.create_index("ix_sync_owners_destination_id", "sync_owners", ["destination_id"])
    op.create_index("ix_sync_owners_sync_serial", "sync_owners", ["sync_serial"])
    op.create_table(
        "sync_deleted",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sync_type", sa.String(128), nullable=False),
        sa.Column("primary_key", sa.Text(), nullable=False),
        sa.Column(
            "sync_owner_id",
            sa.String(32),
            sa.ForeignKey("sync_owners.id", name="sync_deleted_sync_owner_id_fkey"),
            nullable=True,
        ),
        sa.Column("sync_serial", sa.Integer(), nullable=False),
    )
    op.create_index(
        "sync_deleted_serial_idx", "sync_deleted", ["sync_owner_id", "sync_serial"]
    )


def downgrade() -> None:
    op.drop_table("sync_deleted")
    op.drop_table("sync_owners")
    op.drop_table("sync_serial")
    op.drop_table("sync_destinations")
