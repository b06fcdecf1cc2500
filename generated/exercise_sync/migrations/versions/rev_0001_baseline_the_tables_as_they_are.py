"""Baseline: the tables as they are

Revision ID: 0001
Revises:

Written by ``entanglegen migrations new`` for exercise_sync from the difference between
the committed schema state and schemas/exercise.yaml; review it like code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("side", sa.String(length=5), nullable=False),
        sa.Column("motto", sa.String(), nullable=True),
        sa.Column("sync_serial", sa.Integer(), nullable=False),
        sa.Column(
            "sync_owner_id",
            sa.String(length=32),
            sa.ForeignKey("sync_owners.id", ondelete="CASCADE"),
            nullable=True,
        ),
    )
    op.create_index("ix_teams_sync_serial", "teams", ["sync_serial"])
    op.create_index("ix_teams_sync_owner_id", "teams", ["sync_owner_id"])
    op.create_table(
        "participants",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column(
            "team", sa.String(length=32), sa.ForeignKey("teams.id"), nullable=False
        ),
        sa.Column("side", sa.String(length=5), nullable=False),
        sa.Column("callsign", sa.String(length=32), nullable=False),
        sa.Column("joined_on", sa.Date(), nullable=False),
        sa.Column("avatar", sa.LargeBinary(length=65536), nullable=True),
        sa.Column("password_hash", sa.String(), nullable=True),
        sa.Column("sync_serial", sa.Integer(), nullable=False),
        sa.Column(
            "sync_owner_id",
            sa.String(length=32),
            sa.ForeignKey("sync_owners.id", ondelete="CASCADE"),
            nullable=True,
        ),
    )
    op.create_index("ix_participants_sync_serial", "participants", ["sync_serial"])
    op.create_index("ix_participants_sync_owner_id", "participants", ["sync_owner_id"])
    op.create_table(
        "machines",
        sa.Column("sync_kind", sa.String(length=128), nullable=False),
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("hostname", sa.String(length=253), nullable=False),
        sa.Column("address", sa.String(length=45), nullable=False),
        sa.Column(
            "team", sa.String(length=32), sa.ForeignKey("teams.id"), nullable=False
        ),
        sa.Column("side", sa.String(length=5), nullable=False),
        sa.Column("os", sa.String(length=7), nullable=False),
        sa.Column("specs", sa.JSON(), nullable=False),
        sa.Column("compromised", sa.Boolean(), nullable=False),
        sa.Column("sync_serial", sa.Integer(), nullable=False),
        sa.Column(
            "sync_owner_id",
            sa.String(length=32),
            sa.ForeignKey("sync_owners.id", ondelete="CASCADE"),
            nullable=True,
        ),
    )
    op.create_index("ix_machines_sync_serial", "machines", ["sync_serial"])
    op.create_index("ix_machines_sync_owner_id", "machines", ["sync_owner_id"])
    op.create_table(
        "virtual_machines",
        sa.Column(
            "id", sa.String(length=32), sa.ForeignKey("machines.id"), primary_key=True
        ),
        sa.Column("hypervisor", sa.String(length=253), nullable=False),
        sa.Column("snapshot_taken_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "handoffs",
        sa.Column(
            "machine",
            sa.String(length=32),
            sa.ForeignKey("machines.id"),
            primary_key=True,
        ),
        sa.Column("sequence", sa.Integer(), primary_key=True),
        sa.Column("side", sa.String(length=5), nullable=False),
        sa.Column(
            "from_participant",
            sa.String(length=32),
            sa.ForeignKey("participants.id"),
            nullable=True,
        ),
        sa.Column(
            "to_participant",
            sa.String(length=32),
            sa.ForeignKey("participants.id"),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(), nullable=False),
        sa.Column("sync_serial", sa.Integer(), nullable=False),
        sa.Column(
            "sync_owner_id",
            sa.String(length=32),
            sa.ForeignKey("sync_owners.id", ondelete="CASCADE"),
            nullable=True,
        ),
    )
    op.create_index("ix_handoffs_sync_serial", "handoffs", ["sync_serial"])
    op.create_index("ix_handoffs_sync_owner_id", "handoffs", ["sync_owner_id"])
    op.create_table(
        "help_requests",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column(
            "participant",
            sa.String(length=32),
            sa.ForeignKey("participants.id"),
            nullable=False,
        ),
        sa.Column("side", sa.String(length=5), nullable=False),
        sa.Column(
            "machine", sa.String(length=32), sa.ForeignKey("machines.id"), nullable=True
        ),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("body", sa.String(), nullable=False),
        sa.Column("score_penalty", sa.Float(), nullable=False),
        sa.Column("sync_serial", sa.Integer(), nullable=False),
        sa.Column(
            "sync_owner_id",
            sa.String(length=32),
            sa.ForeignKey("sync_owners.id", ondelete="CASCADE"),
            nullable=True,
        ),
    )
    op.create_index("ix_help_requests_sync_serial", "help_requests", ["sync_serial"])
    op.create_index(
        "ix_help_requests_sync_owner_id", "help_requests", ["sync_owner_id"]
    )


def downgrade() -> None:
    op.drop_table("help_requests")
    op.drop_table("handoffs")
    op.drop_table("virtual_machines")
    op.drop_table("machines")
    op.drop_table("participants")
    op.drop_table("teams")
