"""help requests: updated_at

Revision ID: 0002
Revises: 0001

Written by ``entanglegen migrations new`` for exercise_sync from the difference between
the committed schema state and schemas/exercise.yaml; review it like code.
"""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("teams") as batch:
        batch.create_unique_constraint("uq_teams_name", ["name"])
    with op.batch_alter_table("participants") as batch:
        batch.create_check_constraint(
            "ck_participants_callsign", "length(callsign) >= 2"
        )
        batch.create_unique_constraint(
            "uq_participants_team_callsign", ["team", "callsign"]
        )
    op.create_index("ix_participants_callsign", "participants", ["callsign"])
    op.create_index(
        "ix_machines_team_hostname", "machines", ["team", "hostname"], unique=True
    )
    with op.batch_alter_table("handoffs") as batch:
        batch.alter_column(
            "note",
            existing_type=sa.String(),
            existing_nullable=False,
            server_default="",
        )
        batch.create_check_constraint("ck_handoffs_sequence", "sequence >= 1")
    with op.batch_alter_table("help_requests") as batch:
        batch.add_column(
            sa.Column(
                "updated_at",
                sa.DateTime(timezone=True),
                nullable=True,
                server_default=sa.func.current_timestamp(),
            )
        )
    table = sa.table(
        "help_requests",
        sa.column("updated_at", sa.DateTime(timezone=True)),
        sa.column("id", sa.String(length=32)),
    )
    op.execute(
        table.update().values({"updated_at": datetime.datetime.now(datetime.UTC)})
    )
    with op.batch_alter_table("help_requests") as batch:
        batch.alter_column(
            "updated_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch.alter_column(
            "score_penalty",
            existing_type=sa.Float(),
            existing_nullable=False,
            server_default="0",
        )
        batch.create_check_constraint(
            "ck_help_requests_score_penalty", "score_penalty >= 0"
        )
    op.create_index("ix_help_requests_opened_at", "help_requests", ["opened_at"])


def downgrade() -> None:
    op.drop_index("ix_help_requests_opened_at", table_name="help_requests")
    with op.batch_alter_table("help_requests") as batch:
        batch.drop_constraint("ck_help_requests_score_penalty", type_="check")
        batch.alter_column(
            "score_penalty",
            existing_type=sa.Float(),
            existing_nullable=False,
            server_default=None,
        )
        batch.drop_column("updated_at")
    with op.batch_alter_table("handoffs") as batch:
        batch.drop_constraint("ck_handoffs_sequence", type_="check")
        batch.alter_column(
            "note",
            existing_type=sa.String(),
            existing_nullable=False,
            server_default=None,
        )
    op.drop_index("ix_machines_team_hostname", table_name="machines")
    op.drop_index("ix_participants_callsign", table_name="participants")
    with op.batch_alter_table("participants") as batch:
        batch.drop_constraint("uq_participants_team_callsign", type_="unique")
        batch.drop_constraint("ck_participants_callsign", type_="check")
    with op.batch_alter_table("teams") as batch:
        batch.drop_constraint("uq_teams_name", type_="unique")
