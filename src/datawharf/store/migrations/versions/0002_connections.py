"""Datasource connections.

Revision ID: 0002_connections
Revises: 0001_apikeys
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_connections"
down_revision = "0001_apikeys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connections",
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("title", sa.String(500), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("is_reusable", sa.Boolean(), nullable=False),
        sa.Column("auth_type", sa.String(32), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("access_key_id", sa.String(256), nullable=True),
        sa.Column("secret_token", sa.Text(), nullable=True),
        sa.Column("header_names", sa.JSON(), nullable=False),
        sa.Column("header_values_token", sa.Text(), nullable=True),
        sa.Column("role_arn", sa.String(2048), nullable=True),
        sa.Column("external_id", sa.String(256), nullable=True),
        sa.Column("ods_aws_account_id", sa.String(32), nullable=True),
        sa.Column("role_is_valid", sa.Boolean(), nullable=False),
        sa.Column("validation", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_connections")),
        sa.UniqueConstraint("external_id", name=op.f("uq_connections_external_id")),
    )


def downgrade() -> None:
    op.drop_table("connections")
