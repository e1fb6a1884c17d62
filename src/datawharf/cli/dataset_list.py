"""``datawharf datasets list``: one line a dataset, in well under the time SQLAlchemy takes to import.

On a SQLite home already migrated, the rows come through the stdlib (``datasets/summaries.py``); elsewhere
(PostgreSQL, a new home) through the store, which migrates first; through a server (``--server``), from
its Automation API. All three print the same table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from datawharf.cli.common import announce_home, console, friendly_errors, server
from datawharf.datasets.summaries import DatasetSummary, read_summaries, summary_of
from datawharf.settings import Settings

if TYPE_CHECKING:
    from datawharf.cli.remote import Server

LIMIT = 1000


def _through_the_store() -> list[DatasetSummary]:
    from datawharf.cli.database import database  # SQLAlchemy: only where the stdlib could not answer
    from datawharf.datasets import service

    with database() as db, db.session() as session:
        _total, rows = service.list_datasets(session, limit=LIMIT, offset=0)
        return [summary_of(d) for d in rows]


def _through_the_server(remote: Server) -> list[DatasetSummary]:
    summaries = []
    for d in remote.every("/datasets/"):
        state = remote.dataset_status(d["uid"])
        summaries.append(
            DatasetSummary(
                uid=d["uid"],
                dataset_id=d["dataset_id"],
                title=d["metadata"]["default"]["title"]["value"],
                status=state["status"],
                is_published=state["is_published"],
                current_version_uid=state["version_uid"],
            )
        )
    return summaries


def _on_the_home() -> list[DatasetSummary]:
    settings = Settings()
    announce_home(settings)  # the store's road would name it too, the stdlib's would not: here, once
    summaries = read_summaries(settings, limit=LIMIT)
    return _through_the_store() if summaries is None else summaries


@friendly_errors
def list_() -> None:
    """List datasets with their status."""
    remote = server()
    summaries = _on_the_home() if remote is None else _through_the_server(remote)
    table = Table("uid", "dataset_id", "title", "status", "published", "version")
    for d in summaries:
        table.add_row(
            d.uid,
            d.dataset_id,
            d.title or d.dataset_id,  # the API's title when none is set
            d.status,
            "yes" if d.is_published else "no",
            d.current_version_uid or "",
        )
    console.print(table)
