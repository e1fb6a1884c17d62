"""Datasets, resources, field configurations, versions, schedules.

Revision ID: 0003_datasets
Revises: 0001_apikeys
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_datasets"
down_revision = "0001_apikeys"
branch_labels = ("datasets",)
depends_on = None

UID = sa.String(32)


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _child(name: str) -> list[sa.Column | sa.Constraint]:
    return [
        sa.Column("uid", UID, nullable=False),
        sa.Column("dataset_uid", UID, nullable=False),
        sa.PrimaryKeyConstraint("uid", name=op.f(f"pk_{name}")),
        sa.ForeignKeyConstraint(
            ["dataset_uid"],
            ["datasets.uid"],
            name=op.f(f"fk_{name}_dataset_uid_datasets"),
            ondelete="CASCADE",
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("uid", UID, nullable=False),
        sa.Column("dataset_id", sa.String(100), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("is_restricted", sa.Boolean(), nullable=False),
        sa.Column("is_published", sa.Boolean(), nullable=False),
        sa.Column("current_version_uid", UID, nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_previous", sa.String(32), nullable=True),
        sa.Column("status_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=True),
        sa.Column("records_errors", sa.JSON(), nullable=False),
        sa.Column("errors_count", sa.BigInteger(), nullable=False),
        sa.Column("run_uid", UID, nullable=True),
        sa.Column("run_only_if_changed", sa.Boolean(), nullable=False),
        sa.Column("run_worker", sa.String(200), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("bytes_done", sa.BigInteger(), nullable=False),
        sa.Column("bytes_total", sa.BigInteger(), nullable=True),
        sa.Column("records_done", sa.BigInteger(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_datasets")),
        sa.UniqueConstraint("dataset_id", name=op.f("uq_datasets_dataset_id")),
    )
    op.create_table(
        "dataset_resources",
        *_child("dataset_resources"),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("datasource", sa.JSON(), nullable=False),
        sa.Column("headers_secret", sa.Text(), nullable=True),
        sa.Column("connection_uid", UID, nullable=True),
        *_timestamps(),
    )
    op.create_index(op.f("ix_dataset_resources_dataset_uid"), "dataset_resources", ["dataset_uid"])
    op.create_index(op.f("ix_dataset_resources_connection_uid"), "dataset_resources", ["connection_uid"])
    op.create_table(
        "dataset_field_configurations",
        *_child("dataset_field_configurations"),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("label", sa.String(500), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        op.f("ix_dataset_field_configurations_dataset_uid"), "dataset_field_configurations", ["dataset_uid"]
    )
    op.create_table(
        "dataset_versions",
        *_child("dataset_versions"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sections", sa.JSON(), nullable=False),
        sa.Column("data_uid", UID, nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("records_count", sa.BigInteger(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("errors_count", sa.BigInteger(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("config_hash", sa.String(64), nullable=False),
        sa.Column("restored_from", UID, nullable=True),
    )
    op.create_index(op.f("ix_dataset_versions_dataset_uid"), "dataset_versions", ["dataset_uid"])
    op.create_table(
        "dataset_schedules",
        *_child("dataset_schedules"),
        sa.Column("cron_schedule", sa.String(200), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
    )
    op.create_index(op.f("ix_dataset_schedules_dataset_uid"), "dataset_schedules", ["dataset_uid"])
    op.create_index(op.f("ix_dataset_schedules_next_run_at"), "dataset_schedules", ["next_run_at"])


def downgrade() -> None:
    for table in (
        "dataset_schedules",
        "dataset_versions",
        "dataset_field_configurations",
        "dataset_resources",
    ):
        op.drop_table(table)
    op.drop_table("datasets")
