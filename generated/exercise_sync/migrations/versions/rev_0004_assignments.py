"""assignments

Revision ID: 0004
Revises: 0003

Written by ``entanglegen migrations new`` for exercise_sync from the difference between
the committed schema state and schemas/exercise.yaml; review it like code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assignments",
        sa.Column(
            "participant",
            sa.String(length=32),
            sa.ForeignKey("participants.id"),
            primary_key=True,
        ),
        sa.Column(
            "machine",
            sa.String(length=32),
            sa.ForeignKey("machines.id"),
            primary_key=True,
        ),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sync_serial", sa.Integer(), nullable=False),
        sa.Column(
            "sync_owner_id",
            sa.String(length=32),
            sa.ForeignKey("sync_owners.id", ondelete="CASCADE"),
            nullable=True,
        ),
    )
    op.create_index("ix_assignments_sync_serial", "assignments", ["sync_serial"])
    op.create_index("ix_assignments_sync_owner_id", "assignments", ["sync_owner_id"])


def downgrade() -> None:
    op.drop_table("assignments")
