"""The objects of a prefix or glob that each version holds (key, ETag, size, records): incremental refresh.

Revision ID: 0007_version_objects
Revises: 0005_published_metadata
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_version_objects"
down_revision = "0005_published_metadata"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_version_objects",
        sa.Column("version_uid", sa.String(32), nullable=False),
        sa.Column("resource_uid", sa.String(32), nullable=False),
        sa.Column("key", sa.String(1024), nullable=False),
        sa.Column("etag", sa.String(200), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "version_uid", "resource_uid", "key", name=op.f("pk_dataset_version_objects")
        ),
        sa.ForeignKeyConstraint(
            ["version_uid"],
            ["dataset_versions.uid"],
            name=op.f("fk_dataset_version_objects_version_uid_dataset_versions"),
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("dataset_version_objects")
