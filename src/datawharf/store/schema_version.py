"""Which schema revision a database must be at, known without importing Alembic or SQLAlchemy.

Reading the heads from the migration scripts' ``revision``/``down_revision`` lines saves every CLI command
Alembic's import (0.2-0.5 s, issue 16), and lets a read-only command check a SQLite home with the stdlib
alone (``store/sqlite_readonly.py``); ``test_migration_heads_are_alembics`` holds it to Alembic's answer.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path
from typing import Any

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _literal(tree: ast.Module, name: str) -> Any:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    return None


@cache
def migration_heads() -> frozenset[str]:
    """The newest revision of every branch. A script written otherwise (no plain ``revision = "..."``)
    adds ``None``, which no database matches: Alembic then runs, as before."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS_DIR / "versions").glob("*.py"):
        tree = ast.parse(script.read_text(encoding="utf-8"))
        revisions.add(_literal(tree, "revision"))
        down = _literal(tree, "down_revision")
        parents.update([down] if isinstance(down, str) else down or ())
    return frozenset(revisions - parents)
