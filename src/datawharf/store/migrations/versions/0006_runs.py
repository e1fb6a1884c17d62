"""The runs table (claim, heartbeat, fencing and recovery of background runs: ``jobs/runs.py``).

Revision ID: 0006_runs
Revises: 0001_apikeys
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_runs"
down_revision = "0001_apikeys"
branch_labels = ("runs",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject_uid", sa.String(32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("worker", sa.String(200), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_runs")),
    )
    op.create_index(op.f("ix_runs_subject_uid"), "runs", ["subject_uid"])
    op.create_index(op.f("ix_runs_status"), "runs", ["status"])


def downgrade() -> None:
    op.drop_index(op.f("ix_runs_status"), table_name="runs")
    op.drop_index(op.f("ix_runs_subject_uid"), table_name="runs")
    op.drop_table("runs")
