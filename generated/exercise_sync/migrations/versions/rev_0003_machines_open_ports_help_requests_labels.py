"""machines: open ports; help requests: labels

Revision ID: 0003
Revises: 0002

Written by ``entanglegen migrations new`` for exercise_sync from the difference between
the committed schema state and schemas/exercise.yaml; review it like code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("machines") as batch:
        batch.add_column(sa.Column("open_ports", sa.JSON(), nullable=True))
    table = sa.table(
        "machines",
        sa.column("open_ports", sa.JSON()),
        sa.column("id", sa.String(length=32)),
    )
    op.execute(table.update().values({"open_ports": []}))
    with op.batch_alter_table("machines") as batch:
        batch.alter_column("open_ports", existing_type=sa.JSON(), nullable=False)
    with op.batch_alter_table("help_requests") as batch:
        batch.add_column(sa.Column("labels", sa.JSON(), nullable=True))
    table = sa.table(
        "help_requests",
        sa.column("labels", sa.JSON()),
        sa.column("id", sa.String(length=32)),
    )
    op.execute(table.update().values({"labels": []}))
    with op.batch_alter_table("help_requests") as batch:
        batch.alter_column("labels", existing_type=sa.JSON(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("help_requests") as batch:
        batch.drop_column("labels")
    with op.batch_alter_table("machines") as batch:
        batch.drop_column("open_ports")
