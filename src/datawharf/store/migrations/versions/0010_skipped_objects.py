"""The reason an object of a prefix or glob was skipped (its fields differ), held with the version's objects.

An object skipped under ``DATAWHARF_GLOB_MISMATCH=skip`` is recorded (records 0, ``skipped`` its reason),
so an incremental refresh knows it and reads it again only when its ETag or size changes.

It merges the harvesters branch (where it was asked to go) with the one that made the table
(``0007_version_objects``): ``depends_on`` would order them too, but Alembic then stamps a database
without 0007, which ``schema_version.migration_heads`` (and so ``Database.is_current``) counts as a head.

Revision ID: 0010_skipped_objects
Revises: 0008_harvesters, 0007_version_objects
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_skipped_objects"
down_revision = ("0008_harvesters", "0007_version_objects")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("dataset_version_objects", sa.Column("skipped", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dataset_version_objects") as batch:
        batch.drop_column("skipped")
