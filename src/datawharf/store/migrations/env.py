"""Alembic environment: always driven programmatically by ``Database.migrate`` with a live connection."""

from __future__ import annotations

from alembic import context

from datawharf.store.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite can only ALTER through table copies
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
