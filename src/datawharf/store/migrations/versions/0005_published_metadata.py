"""The metadata the Explore API shows, apart from the draft that edits change.

Revision ID: 0005_published_metadata
Revises: 0003_datasets
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_published_metadata"
down_revision = "0003_datasets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("published_metadata", sa.JSON(), nullable=True))
    # The datasets published before kept showing their metadata as it is: that is their published copy.
    datasets = sa.table(
        "datasets",
        sa.column("metadata", sa.JSON()),
        sa.column("published_metadata", sa.JSON()),
        sa.column("is_published", sa.Boolean()),
    )
    op.execute(
        datasets.update()
        .where(datasets.c.is_published.is_(True))
        .values(published_metadata=datasets.c.metadata)
    )


def downgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("published_metadata")
