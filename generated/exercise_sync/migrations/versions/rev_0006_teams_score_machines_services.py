"""teams: score; machines: services

Revision ID: 0006
Revises: 0005

Written by ``entanglegen migrations new`` for exercise_sync from the difference between
the committed schema state and schemas/exercise.yaml; review it like code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("teams") as batch:
        batch.add_column(
            sa.Column(
                "score",
                sa.Numeric(precision=8, scale=1).with_variant(sa.Float(), "sqlite"),
                nullable=True,
                server_default="0",
            )
        )
    table = sa.table(
        "teams",
        sa.column(
            "score", sa.Numeric(precision=8, scale=1).with_variant(sa.Float(), "sqlite")
        ),
        sa.column("id", sa.String(length=32)),
    )
    op.execute(table.update().values({"score": "0"}))
    with op.batch_alter_table("teams") as batch:
        batch.alter_column(
            "score",
            existing_type=sa.Numeric(precision=8, scale=1).with_variant(
                sa.Float(), "sqlite"
            ),
            nullable=False,
        )
    with op.batch_alter_table("machines") as batch:
        batch.add_column(sa.Column("services", sa.JSON(), nullable=True))
    table = sa.table(
        "machines",
        sa.column("services", sa.JSON()),
        sa.column("id", sa.String(length=32)),
    )
    op.execute(table.update().values({"services": {}}))
    with op.batch_alter_table("machines") as batch:
        batch.alter_column("services", existing_type=sa.JSON(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("machines") as batch:
        batch.drop_column("services")
    with op.batch_alter_table("teams") as batch:
        batch.drop_column("score")
