"""``datawharf harvesters create|list|run|preview|publish|unpublish|abort|schedule|delete``: S3
harvesters, on the home or through a server.

Both roads print from the API's JSON shape (``harvest/service.public``), so they print alike. On the
home, ``run`` makes the pass in this process and queues the publishes it asks for (a running
``datawharf serve`` picks them up); ``--wait`` runs them here, one after the other. Through a server,
``run`` starts the pass there and, with ``--wait``, follows it to its end. The core is imported inside
the commands: ``datawharf --help`` stays fast (tests/unit/test_cli_startup.py).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from datawharf.cli.common import console, friendly_errors, server
from datawharf.cli.deleting import delete_confirmed

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

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


def _queued_here(db: Any, settings: Any, queued: Sequence[tuple[str, str | None]], wait: bool) -> None:
    """Publishes queued on the home: run here, one after the other (``wait``), or left for a server."""
    runs = [(dataset_uid, run_uid) for dataset_uid, run_uid in queued if run_uid is not None]
    if wait and runs:
        from datawharf.datasets import locate
        from datawharf.datasets.publish import PublishRun  # the pipeline: pyarrow, numpy

        for dataset_uid, run_uid in runs:
            PublishRun(
                db, settings, dataset_uid, run_uid, locate.stream_locator(db.session, settings)
            ).execute()
    elif runs:
        console.print(
            f"{len(runs)} publishes queued: a running 'datawharf serve' picks them up (or run with "
            "--wait to publish them here).",
            highlight=False,
        )


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
        _queued_here(db, settings, queued, wait)
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

    def on_home(session: Session) -> None:
        from datawharf.harvest import service

        service.delete_harvester(session, harvester)

    delete_confirmed(
        f"Delete harvester {harvester} (its datasets stay)?",
        yes,
        lambda _remote: f"/harvesters/{harvester}/",
        on_home,
    )
    console.print(f"Deleted harvester {harvester}; its datasets stay.", highlight=False)


@app.command()
@friendly_errors
def abort(harvester: str = typer.Argument(..., help="The harvester's uid (hv_...).")) -> None:
    """Stop the harvesting: the pass (it saves nothing) and every publish queued or running on its
    datasets (their previous versions stay served)."""
    remote = server()
    if remote is not None:
        remote.call("POST", f"/harvesters/{harvester}/abort/")
    else:
        from datawharf.cli.database import database
        from datawharf.harvest import control

        # Workers elsewhere (a server, another CLI) see it at their next heartbeat.
        with database() as db, db.session() as session:
            control.request_abort(session, harvester)
    console.print(f"Abort requested for harvester {harvester}.", highlight=False)


def _print_action(verb: str, counted: dict[str, Any]) -> None:
    shown = [
        f"{counted['done']} {verb}",
        f"{counted['already']} already {'' if verb == 'published' else 'un'}published",
    ]
    shown += [f"{counted[name]} {name}" for name in ("busy", "gone") if counted.get(name)]
    console.print(", ".join(shown) + ".", highlight=False)


def _counted(counted: Any) -> dict[str, Any]:
    return {"done": len(counted.done), "already": counted.already, "busy": counted.busy, "gone": counted.gone}


@app.command()
@friendly_errors
def publish(
    harvester: str = typer.Argument(..., help="The harvester's uid (hv_...)."),
    wait: bool = typer.Option(
        False, "--wait", help="On the home: run the publishes here, one after the other."
    ),
) -> None:
    """Publish every dataset the harvester made that is not published (and whose object is there)."""
    remote = server()
    if remote is not None:
        counted = remote.call("POST", f"/harvesters/{harvester}/publish/")
    else:
        from datawharf.cli.database import database
        from datawharf.harvest import control
        from datawharf.settings import Settings

        settings = Settings()
        with database() as db:
            with db.session() as session:
                done = control.publish_all(session, harvester, max_attempts=settings.run_max_attempts)
            _queued_here(db, settings, done.done, wait)
            counted = _counted(done)
    _print_action("published", counted)


@app.command()
@friendly_errors
def unpublish(harvester: str = typer.Argument(..., help="The harvester's uid (hv_...).")) -> None:
    """Unpublish every dataset the harvester made (they stay; its next pass publishes them again)."""
    remote = server()
    if remote is not None:
        counted = remote.call("POST", f"/harvesters/{harvester}/unpublish/")
    else:
        from datawharf.cli.database import database
        from datawharf.harvest import control

        with database() as db, db.session() as session:
            counted = _counted(control.unpublish_all(session, harvester))
    _print_action("unpublished", counted)


@app.command()
@friendly_errors
def preview(harvester: str = typer.Argument(..., help="The harvester's uid (hv_...).")) -> None:
    """What a pass would do now, from the listing's first page (nothing is read or written)."""
    remote = server()
    if remote is not None:
        shown = remote.call("GET", f"/harvesters/{harvester}/preview/")
    else:
        from datawharf.cli.database import database
        from datawharf.harvest import preview as previews
        from datawharf.harvest import service
        from datawharf.settings import Settings

        with database() as db, db.session() as session:
            found = service.get_harvester(session, harvester)
            shown = previews.preview(session, Settings(), found, saved_uid=harvester)
    table = Table("action", "dataset_id", "title", "source key")
    for row in shown["results"]:
        table.add_row(row["action"], row["id"], row["title"], row["source_key"])
    console.print(table)
    if not shown["complete"]:
        console.print(
            f"The listing has more than one page: its first {shown['total_count']} keys are shown, and gone "
            "keys cannot be judged from them.",
            highlight=False,
        )


@app.command()
@friendly_errors
def schedule(
    harvester: str = typer.Argument(..., help="The harvester's uid (hv_...)."),
    cron: str = typer.Argument(
        ..., help="Five unix-cron fields, e.g. '30 1 * * *'; '' removes the schedule."
    ),
    timezone: str = typer.Option("UTC", "--timezone", help="The timezone the cron is read in (IANA name)."),
) -> None:
    """Set (or remove) the harvester's one schedule."""
    remote = server()
    if remote is not None:
        found = remote.call("GET", f"/harvesters/{harvester}/schedules/")["results"]
        body = {"cron_schedule": cron, "timezone": timezone}
        if not cron:
            for one in found:
                remote.call("DELETE", f"/harvesters/{harvester}/schedules/{one['uid']}/")
            shown = None
        elif found:
            shown = remote.call("PUT", f"/harvesters/{harvester}/schedules/{found[0]['uid']}/", json=body)
        else:
            shown = remote.call("POST", f"/harvesters/{harvester}/schedules/", json=body)
    else:
        from datawharf.cli.database import database
        from datawharf.harvest import schedules

        with database() as db, db.session() as session:
            found = schedules.list_schedules(session, harvester)
            if not cron:
                for one in found:
                    schedules.delete_schedule(session, harvester, one["uid"])
                shown = None
            elif found:
                shown = schedules.update_schedule(session, harvester, found[0]["uid"], cron, timezone)
            else:
                shown = schedules.create_schedule(session, harvester, cron, timezone)
    if shown is None:
        console.print(f"Harvester {harvester} has no schedule now.", highlight=False)
    else:
        console.print(
            f"Harvester {harvester} runs {shown['cron_schedule']!r} ({shown['timezone']}: "
            f"{shown['description'] or 'see the cron'}); next pass {str(shown['next_run_at'])[:19]} UTC.",
            highlight=False,
        )
