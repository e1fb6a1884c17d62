"""Runs that are parts of another run (a publish's objects spread over workers): parent and payload.

Revision ID: 0009_run_parts
Revises: 0006_runs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_run_parts"
down_revision = "0006_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("parent_uid", sa.String(32), nullable=True))
        batch.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        batch.create_index(op.f("ix_runs_parent_uid"), ["parent_uid"])


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_index(op.f("ix_runs_parent_uid"))
        batch.drop_column("payload")
        batch.drop_column("parent_uid")
