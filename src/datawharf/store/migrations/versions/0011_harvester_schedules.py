"""A harvester's schedule gets its timezone (the reference's ``HarvesterSchedule.timezone``).

Revision ID: 0011_harvester_schedules
Revises: 0008_harvesters
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_harvester_schedules"
down_revision = "0008_harvesters"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing schedules were reckoned in UTC: the default keeps them as they were.
    with op.batch_alter_table("harvesters") as batch:
        batch.add_column(sa.Column("schedule_timezone", sa.String(64), nullable=False, server_default="UTC"))


def downgrade() -> None:
    with op.batch_alter_table("harvesters") as batch:
        batch.drop_column("schedule_timezone")
