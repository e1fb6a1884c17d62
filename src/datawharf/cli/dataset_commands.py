"""``datawharf datasets create|show|status|publish|abort|versions|restore|delete-version|delete`` (the
group and ``list`` are ``cli/datasets.py``).

``publish --wait`` runs the publish in this process with a progress bar (bytes, records, rate, time
left); without ``--wait`` it queues the run for a running ``datawharf serve`` to pick up.
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from datawharf.apikeys import ADMIN_PERMISSIONS  # the operator at the console: every permission
from datawharf.cli.common import console, friendly_errors
from datawharf.cli.database import database
from datawharf.datasets import control, service, versions
from datawharf.settings import Settings
from datawharf.store.db import Database


def _when(value: Any) -> str:
    aware = control.aware(value)
    return aware.strftime("%Y-%m-%d %H:%M:%S UTC") if aware else ""


@friendly_errors
def create(
    url: str = typer.Argument(..., help="The object's URL (or its name relative to the connection's URL)."),
    title: str = typer.Option(..., "--title", help="Dataset title; the dataset_id is made from it."),
    connection: str = typer.Option(
        None, "--connection", help="Connection uid (co_...); none: public object."
    ),
    dataset_id: str = typer.Option(None, "--dataset-id", help="Technical identifier (default: from title)."),
    extractor: str = typer.Option(None, "--type", help="Extractor (csvfile, jsonfile...); default: guessed."),
    param: list[str] = typer.Option(None, "--param", "-p", help="Extractor parameter name=value (repeat)."),
    strict: bool = typer.Option(False, "--strict", help="Refuse a taken dataset_id instead of suffixing it."),
    publish_: bool = typer.Option(False, "--publish", help="Then publish it (queued, or here with --wait)."),
    wait: bool = typer.Option(False, "--wait", help="With --publish: run it here, with a progress bar."),
) -> None:
    """Create a dataset with one resource; the extractor and its parameters are guessed from the object.

    ``--publish --wait`` creates and publishes in this one process: one start-up instead of two (issue 16).
    """
    from datawharf.datasets import resources  # the extraction engine: pyarrow, numpy
    from datawharf.extract.params import parse_pairs

    if wait and not publish_:
        raise typer.BadParameter("--wait runs the publish here: give --publish with it.", param_hint="--wait")
    settings = Settings()
    given = parse_pairs(param, extractor)
    datasource = {"type": "amazon_s3", "url": url, "connection": {"uid": connection} if connection else None}
    with database() as db:
        with db.session() as session:
            dataset = service.create_dataset(
                session,
                metadata={"default": {"title": {"value": title}}},
                dataset_id=dataset_id,
                strict=strict,
            )
            resource = resources.create_resource(
                session,
                settings,
                dataset.uid,
                type=extractor,
                title=title,
                params=given,
                datasource=datasource,
                permissions=ADMIN_PERMISSIONS,
            )
            uid, ident, resource_uid = dataset.uid, dataset.dataset_id, resource.uid
            name, params = resource.type, dict(resource.params)
        console.print(f"Created dataset {uid} ({ident}) with resource {resource_uid}.", highlight=False)
        console.print(f"Extractor {name}: {escape(json.dumps(params, ensure_ascii=False))}", highlight=False)
        if publish_:
            _publish_in(db, settings, uid, ident, wait=wait, if_changed=False)
        else:
            console.print(f"Publish it with:  datawharf datasets publish {ident} --wait", highlight=False)


@friendly_errors
def show(dataset: str = typer.Argument(..., help="uid (da_...) or dataset_id")) -> None:
    """A dataset, its resources and its current fields."""
    with database() as db, db.session() as session:
        d = service.find_dataset(session, dataset)
        console.print(f"[bold]{escape(d.dataset_id)}[/] ({d.uid})", highlight=False)
        console.print(json.dumps(d.metadata_, indent=2, ensure_ascii=False), highlight=False, markup=False)
        for r in d.resources:
            console.print(
                f"resource {r.uid}: {r.type} {r.datasource.get('url')} "
                f"{json.dumps(r.params, ensure_ascii=False)}",
                highlight=False,
                markup=False,
            )
        current = next((v for v in d.versions if v.uid == d.current_version_uid), None)
        if current is not None:
            table = Table("field", "label", "type")
            for f in current.fields:
                table.add_row(f["name"], f["label"], f["type"])
            console.print(table)


def _print_status(status: dict[str, Any]) -> None:
    progress = status["progress"]
    console.print(
        f"status: {status['status']}  published: {status['is_published']}  version: {status['version_uid']}",
        highlight=False,
    )
    console.print(
        f"records: {progress['records_done']}  bytes: {progress['bytes_done']}/{progress['bytes_total']}  "
        f"errors: {progress['records_errors_count']}",
        highlight=False,
    )
    if status["message"]:
        console.print(escape(status["message"]), highlight=False)


@friendly_errors
def status(dataset: str = typer.Argument(..., help="uid (da_...) or dataset_id")) -> None:
    """Where the dataset stands: status, progress, last message."""
    with database() as db, db.session() as session:
        _print_status(control.status_public(service.find_dataset(session, dataset)))


@friendly_errors
def publish(
    dataset: str = typer.Argument(..., help="uid (da_...) or dataset_id"),
    wait: bool = typer.Option(False, "--wait", help="Run it here, with a progress bar, until it ends."),
    if_changed: bool = typer.Option(False, "--if-changed", help="Do nothing if the objects did not change."),
) -> None:
    """Publish a new version of the dataset."""
    settings = Settings()
    with database() as db:
        with db.session() as session:
            uid = service.find_dataset(session, dataset).uid
        _publish_in(db, settings, uid, dataset, wait=wait, if_changed=if_changed)


def _publish_in(
    db: Database, settings: Settings, uid: str, label: str, *, wait: bool, if_changed: bool
) -> None:
    """Request a publish of dataset ``uid`` (``label``: as the user named it); with ``wait``, run it in
    this process with a progress bar, and exit 1 if it ends in error."""
    with db.session() as session:
        run_uid = control.request_publish(session, uid, only_if_changed=if_changed).run_uid
    if not wait:
        console.print(
            f"Queued ({run_uid}). A running 'datawharf serve' picks it up; follow it with "
            f"'datawharf datasets status {label}', or publish with --wait to run it here.",
            highlight=False,
        )
        return
    assert run_uid is not None
    outcome = _run_here(db, settings, uid, run_uid, label)
    with db.session() as session:
        final = control.status_public(service.get_dataset(session, uid))
    _print_status(final)
    if outcome == "error":
        raise typer.Exit(1)


def _run_here(db: Database, settings: Settings, uid: str, run_uid: str, label: str) -> str:
    """The publish run in this process, its progress shown as it goes; its outcome."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from datawharf.datasets import locate
    from datawharf.datasets.publish import Counters, PublishRun  # the pipeline: pyarrow, numpy

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[records]:,} records"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(f"publish {label}", total=None, records=0)

        def on_progress(counters: Counters, total: int | None) -> None:
            bar.update(task, completed=counters.bytes_done, total=total, records=counters.records_done)

        run = PublishRun(
            db, settings, uid, run_uid, locate.stream_locator(db.session, settings), on_progress=on_progress
        )
        outcome = run.execute()
        on_progress(run.counters, run.bytes_total)
    return outcome


@friendly_errors
def abort(dataset: str = typer.Argument(..., help="uid (da_...) or dataset_id")) -> None:
    """Stop a queued or running publish; the previous version stays served."""
    with database() as db, db.session() as session:
        d = service.find_dataset(session, dataset)
        control.request_abort(session, d.uid)
    console.print("Abort requested.")


@friendly_errors
def versions_(dataset: str = typer.Argument(..., help="uid (da_...) or dataset_id")) -> None:
    """Every published version, newest first."""
    settings = Settings()
    table = Table("version", "created", "records", "size", "errors", "current", "restored from")
    with database() as db, db.session() as session:
        d = service.find_dataset(session, dataset)
        _total, rows = versions.list_versions(session, d.uid, limit=1000, offset=0)
        for v in rows:
            public = versions.public(v, d, settings)
            table.add_row(
                v.uid,
                _when(v.created_at),
                f"{v.records_count:,}",
                f"{v.size_bytes:,}",
                str(v.errors_count),
                "*" if public["is_current"] else "",
                v.restored_from or "",
            )
    console.print(table)
    folder = settings.warehouse_dir / d.uid
    console.print(f"Parquet files under {folder}/<version>/", highlight=False)


@friendly_errors
def restore(
    dataset: str = typer.Argument(..., help="uid (da_...) or dataset_id"),
    version: str = typer.Argument(..., help="version uid (ch_...)"),
) -> None:
    """Serve an older version again (as a new version: the history is kept)."""
    settings = Settings()
    with database() as db, db.session() as session:
        d = service.find_dataset(session, dataset)
        restored = versions.restore_version(session, settings, d.uid, version)
        current = restored.current_version_uid
    console.print(f"Restored {version}; the current version is now {current}.", highlight=False)


@friendly_errors
def delete_version(
    dataset: str = typer.Argument(..., help="uid (da_...) or dataset_id"),
    version: str = typer.Argument(..., help="version uid (ch_...)"),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Delete an old version and its files (not the current one; files a restored version shares stay)."""
    settings = Settings()
    if not yes:
        typer.confirm(f"Delete version {version} of dataset {dataset}?", abort=True)
    with database() as db, db.session() as session:
        d = service.find_dataset(session, dataset)
        versions.delete_version(session, settings, d.uid, version)
    console.print(f"Deleted version {version} of {dataset}.", highlight=False)


@friendly_errors
def delete(
    dataset: str = typer.Argument(..., help="uid (da_...) or dataset_id"),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Delete a dataset, its versions and their files."""
    settings = Settings()
    if not yes:
        typer.confirm(f"Delete dataset {dataset} and all its versions?", abort=True)
    with database() as db, db.session() as session:
        d = service.find_dataset(session, dataset)
        service.delete_dataset(session, settings, d.uid)
    console.print(f"Deleted {dataset}.", highlight=False)
