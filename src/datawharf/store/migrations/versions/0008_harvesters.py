"""S3 harvesters, and the datasets each one made.

Revision ID: 0008_harvesters
Revises: 0001_apikeys
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_harvesters"
down_revision = "0001_apikeys"
branch_labels = ("harvesters",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "harvesters",
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("connection_uid", sa.String(32), nullable=True),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("extractor_type", sa.String(64), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("dataset_id_template", sa.String(200), nullable=False),
        sa.Column("title_template", sa.String(500), nullable=False),
        sa.Column("restrict_datasets_visibility", sa.Boolean(), nullable=False),
        sa.Column("forced_metas", sa.JSON(), nullable=False),
        sa.Column("cron_schedule", sa.String(200), nullable=True),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(200), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_report", sa.JSON(), nullable=False),
        sa.Column("harvester_error", sa.Text(), nullable=True),
        sa.Column("resource_errors", sa.JSON(), nullable=False),
        sa.Column("remote_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_harvesters")),
    )
    op.create_index(op.f("ix_harvesters_connection_uid"), "harvesters", ["connection_uid"], unique=False)
    op.create_index(op.f("ix_harvesters_next_run_at"), "harvesters", ["next_run_at"], unique=False)
    op.create_table(
        "harvested_datasets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("harvester_uid", sa.String(32), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column("dataset_uid", sa.String(32), nullable=False),
        sa.Column("present", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["harvester_uid"],
            ["harvesters.uid"],
            name=op.f("fk_harvested_datasets_harvester_uid_harvesters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_harvested_datasets")),
        sa.UniqueConstraint("harvester_uid", "source_key", name="uq_harvested_datasets_key"),
    )
    op.create_index(
        op.f("ix_harvested_datasets_harvester_uid"), "harvested_datasets", ["harvester_uid"], unique=False
    )
    op.create_index(
        op.f("ix_harvested_datasets_dataset_uid"), "harvested_datasets", ["dataset_uid"], unique=False
    )


def downgrade() -> None:
    op.drop_table("harvested_datasets")
    op.drop_table("harvesters")
