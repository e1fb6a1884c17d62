"""Backoffice sessions (server-side, so that sign-out ends them).

Revision ID: 0004_backoffice_sessions
Revises: 0001_apikeys
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_backoffice_sessions"
down_revision = "0001_apikeys"
branch_labels = ("backoffice_sessions",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backoffice_sessions",
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("key_uid", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_uid"],
            ["api_keys.uid"],
            name=op.f("fk_backoffice_sessions_key_uid_api_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_backoffice_sessions")),
    )
    op.create_index(op.f("ix_backoffice_sessions_key_uid"), "backoffice_sessions", ["key_uid"], unique=False)
    op.create_index(
        op.f("ix_backoffice_sessions_expires_at"), "backoffice_sessions", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_table("backoffice_sessions")
