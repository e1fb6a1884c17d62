"""``datawharf harvesters create|list|run|delete``: S3 harvesters, on the home or through a server.

Both roads print from the API's JSON shape (``harvest/service.public``), so they print alike. On the
home, ``run`` makes the pass in this process and queues the publishes it asks for (a running
``datawharf serve`` picks them up); ``--wait`` runs them here, one after the other. Through a server,
``run`` starts the pass there and, with ``--wait``, follows it to its end. The core is imported inside
the commands: ``datawharf --help`` stays fast (tests/unit/test_cli_startup.py).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import typer
from rich.table import Table

from datawharf.cli.common import console, friendly_errors, server

app = typer.Typer(
    help="Harvest an S3 prefix: one dataset per object or folder.", no_args_is_help=True, add_completion=False
)

POLL_SECONDS = 0.5


def _print_harvester(harvester: dict[str, Any]) -> None:
    report = harvester.get("last_report") or {}
    console.print(
        f"{harvester['uid']}  {harvester['name']}  ({harvester['mode']}: {harvester['url']})  "
        f"status {harvester['status']}",
        highlight=False,
    )
    if report:
        shown = ", ".join(
            f"{name} {report.get(name, 0)}"
            for name in ("keys", "created", "refreshed", "republished", "unpublished", "busy", "errors")
        )
        console.print(f"  last pass: {shown}", highlight=False)
    console.print(
        f"  datasets: {harvester['attached_datasets_count']} made, "
        f"{harvester['published_datasets_count']} published",
        highlight=False,
    )


def _print_errors(errors: dict[str, Any]) -> None:
    if errors.get("harvester"):
        console.print(f"  error: {errors['harvester']}", highlight=False)
    for key, message in sorted((errors.get("resources") or {}).items()):
        console.print(f"  {key}: {message}", highlight=False)


@app.command()
@friendly_errors
def create(
    url: str = typer.Argument(..., help="A prefix (bucket/exports/) or glob (bucket/exports/*.csv)."),
    name: str = typer.Option(..., "--name", help="The harvester's name."),
    connection: str = typer.Option(None, "--connection", help="Connection uid (co_...); none: public."),
    mode: str = typer.Option("object", "--mode", help="object: a dataset per object; folder: per folder."),
    extractor: str = typer.Option(None, "--type", help="Extractor (csvfile, jsonfile...); default: guessed."),
    param: list[str] = typer.Option(None, "--param", "-p", metavar="NAME=VALUE", help="Extractor parameter."),
    dataset_id_template: str = typer.Option(
        "{path}", "--dataset-id", help="dataset_id template: {path}, {name}, {stem}, {folder}; slugified."
    ),
    title_template: str = typer.Option("{path}", "--title", help="Title template (same placeholders)."),
    schedule: str = typer.Option(None, "--schedule", help="Five-field cron (UTC), e.g. '0 * * * *'."),
) -> None:
    """Create a harvester (nothing is read yet: 'datawharf harvesters run' makes the first pass)."""
    body: dict[str, Any] = {
        "type": "amazon_s3",
        "name": name,
        "url": url,
        "connection": {"uid": connection} if connection else None,
        "mode": mode,
        "extractor_type": extractor,
        "dataset_id_template": dataset_id_template,
        "title_template": title_template,
        "cron_schedule": schedule,
    }
    remote = server()
    if remote is not None:
        from datawharf.cli.extractor_help import PARAM_NAMES
        from datawharf.extract.pairs import split_pairs

        body["params"] = split_pairs(param, PARAM_NAMES)
        made = remote.call("POST", "/harvesters/", json=body)
    else:
        from datawharf.apikeys import ADMIN_PERMISSIONS
        from datawharf.cli.database import database
        from datawharf.extract.params import parse_pairs
        from datawharf.harvest import service
        from datawharf.settings import Settings

        settings = Settings()
        config = service.HarvesterConfig(
            name=name,
            url=url,
            connection_uid=connection,
            mode=mode,
            extractor_type=extractor,
            params=parse_pairs(param, extractor) if param else {},
            dataset_id_template=dataset_id_template,
            title_template=title_template,
            cron_schedule=schedule,
            updated_by="cli",
        )
        with database() as db, db.session() as session:
            harvester = service.create_harvester(session, settings, config, permissions=ADMIN_PERMISSIONS)
            made = service.public(session, harvester)
    console.print(f"Created harvester {made['uid']}.", highlight=False)
    console.print(f"Run it with:  datawharf harvesters run {made['uid']} --wait", highlight=False)


@app.command("list")
@friendly_errors
def list_() -> None:
    """List harvesters with their last pass."""
    remote = server()
    if remote is not None:
        rows = list(remote.every("/harvesters/"))
    else:
        from datawharf.cli.database import database
        from datawharf.harvest import service

        with database() as db, db.session() as session:
            _total, found = service.list_harvesters(session, limit=1000, offset=0)
            rows = [service.public(session, h) for h in found]
    table = Table("uid", "name", "mode", "url", "status", "datasets", "published", "last success")
    for h in rows:
        success = h["last_success_at"]
        table.add_row(
            h["uid"],
            h["name"],
            h["mode"],
            h["url"],
            h["status"],
            str(h["attached_datasets_count"]),
            str(h["published_datasets_count"]),
            str(success)[:19] if success else "",
        )
    console.print(table)


def _run_on_server(uid: str, wait: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    remote = server()
    assert remote is not None
    before = remote.call("GET", f"/harvesters/{uid}/")["last_started_at"]
    harvester = remote.call("POST", f"/harvesters/{uid}/start/")
    while wait and (harvester["status"] != "idle" or harvester["last_started_at"] == before):
        time.sleep(POLL_SECONDS)
        harvester = remote.call("GET", f"/harvesters/{uid}/")
    return harvester, remote.call("GET", f"/harvesters/{uid}/errors/")


def _run_on_home(uid: str, wait: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    from datawharf.cli.database import database
    from datawharf.errors import DatawharfError
    from datawharf.harvest import service
    from datawharf.harvest.harvest import run_harvest
    from datawharf.settings import Settings

    settings = Settings()
    with database() as db:
        queued: list[tuple[str, str]] = []
        # An error that stops the pass is saved on the harvester: printed below with the others.
        with contextlib.suppress(DatawharfError):
            run_harvest(db, settings, uid, lambda dataset, run: queued.append((dataset, run)))
        if wait and queued:
            from datawharf.datasets import locate
            from datawharf.datasets.publish import PublishRun  # the pipeline: pyarrow, numpy

            for dataset_uid, run_uid in queued:
                PublishRun(
                    db, settings, dataset_uid, run_uid, locate.stream_locator(db.session, settings)
                ).execute()
        elif queued:
            console.print(
                f"{len(queued)} publishes queued: a running 'datawharf serve' picks them up (or run with "
                "--wait to publish them here).",
                highlight=False,
            )
        with db.session() as session:
            harvester = service.get_harvester(session, uid)
            return service.public(session, harvester), service.errors(harvester)


@app.command()
@friendly_errors
def run(
    harvester: str = typer.Argument(..., help="The harvester's uid (hv_...)."),
    wait: bool = typer.Option(
        False, "--wait", help="Until the pass ends (on the home: its publishes too, run here)."
    ),
) -> None:
    """Make one pass now: new objects become datasets, changed ones are refreshed, gone ones unpublished."""
    done, errors = _run_on_server(harvester, wait) if server() is not None else _run_on_home(harvester, wait)
    _print_harvester(done)
    _print_errors(errors)
    if done["has_error"]:
        raise typer.Exit(1)


@app.command()
@friendly_errors
def delete(
    harvester: str = typer.Argument(..., help="The harvester's uid (hv_...)."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Delete a harvester; the datasets it made stay."""
    if not yes:
        typer.confirm(f"Delete harvester {harvester} (its datasets stay)?", abort=True)
    remote = server()
    if remote is not None:
        remote.call("DELETE", f"/harvesters/{harvester}/")
    else:
        from datawharf.cli.database import database
        from datawharf.harvest import service

        with database() as db, db.session() as session:
            service.delete_harvester(session, harvester)
    console.print(f"Deleted harvester {harvester}; its datasets stay.", highlight=False)
