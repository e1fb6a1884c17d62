"""``datawharf datasets create|show|status|publish|abort|versions|restore|delete-version|delete`` (the
group is ``cli/datasets.py``, ``list`` is ``cli/dataset_list.py``).

On the home, ``publish --wait`` runs the publish in this process with a progress bar (bytes, records,
rate, time left); without ``--wait`` it queues the run for a running ``datawharf serve`` to pick up.
Through a server (``--server``), the server runs it, and ``--wait`` follows its status with the same bar.
``create --publish [--wait]`` does both in one process (one start-up instead of two: issue 16). Both
modes print from the API's JSON, so they print alike.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.table import Table

from datawharf.apikeys import ADMIN_PERMISSIONS  # the operator at the console: every permission
from datawharf.cli.common import console, friendly_errors, server
from datawharf.cli.database import database
from datawharf.cli.deleting import delete_confirmed
from datawharf.cli.extractor_help import EXTRACTOR_HELP, PARAM_HELP, PARAM_NAMES
from datawharf.datasets import control, service, versions
from datawharf.datasets.status import RESTING
from datawharf.settings import Settings
from datawharf.store.db import Database

if TYPE_CHECKING:
    from rich.progress import Progress

    from datawharf.cli.remote import Server

DATASET_HELP = "uid (da_...) or dataset_id"
POLL_SECONDS = 0.5  # how often --wait asks a server where its run stands


def _when(value: datetime | str | None) -> str:
    """A UTC time to the second, from the core's datetime or the API's ISO 8601 text."""
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    aware = control.aware(parsed)
    return aware.strftime("%Y-%m-%d %H:%M:%S UTC") if aware else ""


@friendly_errors
def create(
    url: str = typer.Argument(..., help="The object's URL (or its name relative to the connection's URL)."),
    title: str = typer.Option(..., "--title", help="Dataset title; the dataset_id is made from it."),
    connection: str = typer.Option(
        None, "--connection", help="Connection uid (co_...); none: public object."
    ),
    dataset_id: str = typer.Option(None, "--dataset-id", help="Technical identifier (default: from title)."),
    extractor: str = typer.Option(None, "--type", help=EXTRACTOR_HELP),
    param: list[str] = typer.Option(None, "--param", "-p", metavar="NAME=VALUE", help=PARAM_HELP),
    strict: bool = typer.Option(False, "--strict", help="Refuse a taken dataset_id instead of suffixing it."),
    publish_: bool = typer.Option(
        False, "--publish", help="Then publish it (queued, or to its end with --wait)."
    ),
    wait: bool = typer.Option(
        False,
        "--wait",
        help="With --publish: until it ends, with a progress bar (on the home: run here; with --server: "
        "follow it).",
    ),
) -> None:
    """Create a dataset with one resource; the extractor and its parameters are guessed from the object.

    ``--publish --wait`` creates and publishes in this one process: one start-up instead of two (issue 16).
    """
    if wait and not publish_:
        raise typer.BadParameter("--wait runs the publish here: give --publish with it.", param_hint="--wait")
    datasource = {"type": "amazon_s3", "url": url, "connection": {"uid": connection} if connection else None}
    metadata = {"default": {"title": {"value": title}}}
    remote = server()
    if remote is not None:
        from datawharf.extract.pairs import split_pairs

        given = split_pairs(param, PARAM_NAMES)
        body = {"dataset_id": dataset_id, "metadata": metadata}
        made = remote.call("POST", "/datasets/", json=body, params={"strict": str(strict).lower()})
        uid, ident = made["uid"], made["dataset_id"]
        try:
            resource = remote.call(
                "POST",
                f"/datasets/{uid}/resources/",
                json={"type": extractor, "title": title, "params": given, "datasource": datasource},
            )
        except Exception:
            remote.call("DELETE", f"/datasets/{uid}/")  # as the home's one transaction: nothing left
            raise
        _print_created(uid, ident, resource["uid"], resource["type"], resource["params"], publish_)
        if publish_:
            _end_with(_publish_on_server(remote, uid, ident, wait=wait, if_changed=False))
        return
    from datawharf.datasets import resources  # the extraction engine: pyarrow, numpy
    from datawharf.extract.params import parse_pairs

    settings = Settings()
    typed = parse_pairs(param, extractor)
    with database() as db:
        with db.session() as session:
            dataset = service.create_dataset(session, metadata=metadata, dataset_id=dataset_id, strict=strict)
            made_resource = resources.create_resource(
                session,
                settings,
                dataset.uid,
                type=extractor,
                title=title,
                params=typed,
                datasource=datasource,
                permissions=ADMIN_PERMISSIONS,
            )
            uid, ident, resource_uid = dataset.uid, dataset.dataset_id, made_resource.uid
            name, params = made_resource.type, dict(made_resource.params)
        _print_created(uid, ident, resource_uid, name, params, publish_)
        if publish_:
            _end_with(_publish_on_home(db, settings, uid, ident, wait=wait, if_changed=False))


def _print_created(
    uid: str, ident: str, resource_uid: str, extractor: str, params: dict[str, Any], publishing: bool
) -> None:
    console.print(f"Created dataset {uid} ({ident}) with resource {resource_uid}.", highlight=False)
    console.print(f"Extractor {extractor}: {escape(json.dumps(params, ensure_ascii=False))}", highlight=False)
    if not publishing:
        console.print(f"Publish it with:  datawharf datasets publish {ident} --wait", highlight=False)


@friendly_errors
def show(dataset: str = typer.Argument(..., help=DATASET_HELP)) -> None:
    """A dataset, its resources and its current fields."""
    remote = server()
    if remote is not None:
        uid = remote.dataset_uid(dataset)
        d = remote.call("GET", f"/datasets/{uid}/")
        ident, metadata = d["dataset_id"], d["metadata"]
        sources = [
            (r["uid"], r["type"], r["datasource"], r["params"])
            for r in remote.every(f"/datasets/{uid}/resources/")
        ]
        fields = []
        if remote.dataset_status(uid)["version_uid"]:  # published: the Explore API has its fields
            path = f"/catalog/datasets/{ident}"
            fields = remote.call("GET", path, api="/api/explore/v2.1")["fields"]
    else:
        with database() as db, db.session() as session:
            found = service.find_dataset(session, dataset)
            uid, ident, metadata = found.uid, found.dataset_id, found.metadata_
            sources = [(r.uid, r.type, r.datasource, r.params) for r in found.resources]
            current = next((v for v in found.versions if v.uid == found.current_version_uid), None)
            fields = list(current.fields) if current is not None else []
    console.print(f"[bold]{escape(ident)}[/] ({uid})", highlight=False)
    console.print(json.dumps(metadata, indent=2, ensure_ascii=False), highlight=False, markup=False)
    for resource_uid, kind, datasource, params in sources:
        console.print(
            f"resource {resource_uid}: {kind} {datasource.get('url')} "
            f"{json.dumps(params, ensure_ascii=False)}",
            highlight=False,
            markup=False,
        )
    if fields:
        table = Table("field", "label", "type")
        for f in fields:
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
def status(dataset: str = typer.Argument(..., help=DATASET_HELP)) -> None:
    """Where the dataset stands: status, progress, last message."""
    remote = server()
    if remote is not None:
        _print_status(remote.dataset_status(remote.dataset_uid(dataset)))
        return
    with database() as db, db.session() as session:
        _print_status(control.status_public(service.find_dataset(session, dataset)))


def _progress_bar() -> Progress:  # imported when a publish is followed only
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

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
    return Progress(*columns, console=console, transient=False)


def _publish_on_server(
    remote: Server, uid: str, label: str, *, wait: bool, if_changed: bool
) -> dict[str, Any] | None:
    """Ask the server to publish dataset ``uid`` (``label``: as the user named it); with ``wait``, poll its
    status until the run rests, drawing its progress, and return the last status."""
    remote.call("POST", f"/datasets/{uid}/publish/", params={"only_if_changed": str(if_changed).lower()})
    if not wait:
        console.print(
            f"Publishing on {remote.base_url}; follow it with 'datawharf datasets status {label}', or "
            "publish with --wait to follow it here.",
            highlight=False,
        )
        return None
    with _progress_bar() as bar:
        task = bar.add_task(f"publish {label}", total=None, records=0)
        while True:
            state = remote.dataset_status(uid)
            progress = state["progress"]
            bar.update(
                task,
                completed=progress["bytes_done"],
                total=progress["bytes_total"],
                records=progress["records_done"],
            )
            if state["status"] in RESTING:
                return state
            time.sleep(POLL_SECONDS)


def _publish_on_home(
    db: Database, settings: Settings, uid: str, label: str, *, wait: bool, if_changed: bool
) -> dict[str, Any] | None:
    """Request a publish of dataset ``uid`` (``label``: as the user named it): queued for a running
    ``serve``, or with ``wait`` run in this process with a progress bar; then its final status."""
    with db.session() as session:
        run_uid = control.request_publish(
            session, uid, only_if_changed=if_changed, max_attempts=settings.run_max_attempts
        ).run_uid
    if not wait:
        console.print(
            f"Queued ({run_uid}). A running 'datawharf serve' picks it up; follow it with "
            f"'datawharf datasets status {label}', or publish with --wait to run it here.",
            highlight=False,
        )
        return None
    assert run_uid is not None
    from datawharf.datasets import locate
    from datawharf.datasets.publish import Counters, PublishRun  # the pipeline: pyarrow, numpy

    with _progress_bar() as bar:
        task = bar.add_task(f"publish {label}", total=None, records=0)

        def on_progress(counters: Counters, total: int | None) -> None:
            bar.update(task, completed=counters.bytes_done, total=total, records=counters.records_done)

        run = PublishRun(
            db, settings, uid, run_uid, locate.stream_locator(db.session, settings), on_progress=on_progress
        )
        run.execute()
        on_progress(run.counters, run.bytes_total)
    with db.session() as session:
        return control.status_public(service.get_dataset(session, uid))


def _end_with(final: dict[str, Any] | None) -> None:
    """A followed publish's last status printed, exit 1 if it ended in error (nothing if only queued)."""
    if final is None:
        return
    _print_status(final)
    if final["status"] == "error":
        raise typer.Exit(1)


@friendly_errors
def publish(
    dataset: str = typer.Argument(..., help=DATASET_HELP),
    wait: bool = typer.Option(
        False,
        "--wait",
        help="Until it ends, with a progress bar (on the home: run here; with --server: follow it).",
    ),
    if_changed: bool = typer.Option(False, "--if-changed", help="Do nothing if the objects did not change."),
) -> None:
    """Publish a new version of the dataset."""
    remote = server()
    if remote is not None:
        uid = remote.dataset_uid(dataset)
        _end_with(_publish_on_server(remote, uid, dataset, wait=wait, if_changed=if_changed))
        return
    settings = Settings()
    with database() as db:
        with db.session() as session:
            uid = service.find_dataset(session, dataset).uid
        _end_with(_publish_on_home(db, settings, uid, dataset, wait=wait, if_changed=if_changed))


@friendly_errors
def abort(dataset: str = typer.Argument(..., help=DATASET_HELP)) -> None:
    """Stop a queued or running publish; the previous version stays served."""
    remote = server()
    if remote is not None:
        remote.call("POST", f"/datasets/{remote.dataset_uid(dataset)}/abort/")
    else:
        with database() as db, db.session() as session:
            control.request_abort(session, service.find_dataset(session, dataset).uid)
    console.print("Abort requested.")


@friendly_errors
def versions_(dataset: str = typer.Argument(..., help=DATASET_HELP)) -> None:
    """Every published version, newest first."""
    table = Table("version", "created", "records", "size", "errors", "current", "restored from")
    remote = server()
    if remote is not None:
        uid = remote.dataset_uid(dataset)
        rows = list(remote.every(f"/datasets/{uid}/versions/"))
        where = f"Parquet files on the server, in its warehouse folder {uid}/<version>/"
    else:
        settings = Settings()
        with database() as db, db.session() as session:
            d = service.find_dataset(session, dataset)
            uid = d.uid
            _total, found = versions.list_versions(session, uid, limit=1000, offset=0)
            rows = [versions.public(v, d, settings) for v in found]
        root = (settings.warehouse_url or "").rstrip("/") or settings.warehouse_dir
        where = f"Parquet files under {root}/{uid}/<version>/"
    for v in rows:
        table.add_row(
            v["uid"],
            _when(v["created_at"]),
            f"{v['records_count']:,}",
            f"{v['size_bytes']:,}",
            str(v["errors_count"]),
            "*" if v["is_current"] else "",
            v["restored_from"] or "",
        )
    console.print(table)
    console.print(where, highlight=False)


@friendly_errors
def restore(
    dataset: str = typer.Argument(..., help=DATASET_HELP),
    version: str = typer.Argument(..., help="version uid (ch_...)"),
) -> None:
    """Serve an older version again (as a new version: the history is kept)."""
    remote = server()
    if remote is not None:
        uid = remote.dataset_uid(dataset)
        remote.call("POST", f"/datasets/{uid}/versions/{version}/restore/")
        current = remote.dataset_status(uid)["version_uid"]
    else:
        with database() as db, db.session() as session:
            d = service.find_dataset(session, dataset)
            current = versions.restore_version(session, Settings(), d.uid, version).current_version_uid
    console.print(f"Restored {version}; the current version is now {current}.", highlight=False)


@friendly_errors
def delete_version(
    dataset: str = typer.Argument(..., help=DATASET_HELP),
    version: str = typer.Argument(..., help="version uid (ch_...)"),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Delete an old version and its files (not the current one; files a restored version shares stay)."""
    delete_confirmed(
        f"Delete version {version} of dataset {dataset}?",
        yes,
        lambda remote: f"/datasets/{remote.dataset_uid(dataset)}/versions/{version}/",
        lambda session: versions.delete_version(
            session, Settings(), service.find_dataset(session, dataset).uid, version
        ),
    )
    console.print(f"Deleted version {version} of {dataset}.", highlight=False)


@friendly_errors
def delete(
    dataset: str = typer.Argument(..., help=DATASET_HELP),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Delete a dataset, its versions and their files."""
    delete_confirmed(
        f"Delete dataset {dataset} and all its versions?",
        yes,
        lambda remote: f"/datasets/{remote.dataset_uid(dataset)}/",
        lambda session: service.delete_dataset(
            session, Settings(), service.find_dataset(session, dataset).uid
        ),
    )
    console.print(f"Deleted {dataset}.", highlight=False)
