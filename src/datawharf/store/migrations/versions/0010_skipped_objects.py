"""The reason an object of a prefix or glob was skipped (its fields differ), held with the version's objects.

An object skipped under ``DATAWHARF_GLOB_MISMATCH=skip`` is recorded (records 0, ``skipped`` its reason),
so an incremental refresh knows it and reads it again only when its ETag or size changes.

Revision ID: 0010_skipped_objects
Revises: 0007_version_objects
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_skipped_objects"
down_revision = "0007_version_objects"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("dataset_version_objects", sa.Column("skipped", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dataset_version_objects") as batch:
        batch.drop_column("skipped")
