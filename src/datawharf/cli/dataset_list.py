"""``datawharf datasets list``: one line a dataset, in well under the time SQLAlchemy takes to import.

On a SQLite home already migrated, the rows come through the stdlib (``datasets/summaries.py``); elsewhere
(PostgreSQL, a new home) through the store, which migrates first.
"""

from __future__ import annotations

from rich.table import Table

from datawharf.cli.common import console, friendly_errors
from datawharf.datasets.summaries import DatasetSummary, read_summaries, summary_of
from datawharf.settings import Settings

LIMIT = 1000


def _through_the_store() -> list[DatasetSummary]:
    from datawharf.cli.database import database  # SQLAlchemy: only where the stdlib could not answer
    from datawharf.datasets import service

    with database() as db, db.session() as session:
        _total, rows = service.list_datasets(session, limit=LIMIT, offset=0)
        return [summary_of(d) for d in rows]


@friendly_errors
def list_() -> None:
    """List datasets with their status."""
    summaries = read_summaries(Settings(), limit=LIMIT)
    if summaries is None:
        summaries = _through_the_store()
    table = Table("uid", "dataset_id", "title", "status", "published", "version")
    for d in summaries:
        table.add_row(
            d.uid,
            d.dataset_id,
            d.title,
            d.status,
            "yes" if d.is_published else "no",
            d.current_version_uid or "",
        )
    console.print(table)
