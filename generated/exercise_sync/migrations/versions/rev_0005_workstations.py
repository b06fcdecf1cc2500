"""workstations

Revision ID: 0005
Revises: 0004

Written by ``entanglegen migrations new`` for exercise_sync from the difference between
the committed schema state and schemas/exercise.yaml; review it like code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workstations",
        sa.Column("room", sa.String(length=40), primary_key=True),
        sa.Column("desk", sa.Integer(), primary_key=True),
        sa.Column("console", sa.String(length=253), nullable=False),
        sa.Column("sync_serial", sa.Integer(), nullable=False),
        sa.Column(
            "sync_owner_id",
            sa.String(length=32),
            sa.ForeignKey("sync_owners.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.CheckConstraint("desk >= 1", name="ck_workstations_desk"),
    )
    op.create_index("ix_workstations_sync_serial", "workstations", ["sync_serial"])
    op.create_index("ix_workstations_sync_owner_id", "workstations", ["sync_owner_id"])
    with op.batch_alter_table("participants") as batch:
        batch.add_column(
            sa.Column("workstation_room", sa.String(length=40), nullable=True)
        )
        batch.add_column(sa.Column("workstation_desk", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_participants_workstation",
            "workstations",
            ["workstation_room", "workstation_desk"],
            ["room", "desk"],
        )


def downgrade() -> None:
    with op.batch_alter_table("participants") as batch:
        batch.drop_constraint("fk_participants_workstation", type_="foreignkey")
        batch.drop_column("workstation_desk")
        batch.drop_column("workstation_room")
    op.drop_table("workstations")
