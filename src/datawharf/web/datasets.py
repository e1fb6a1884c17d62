"""Catalog > Datasets: the list, each dataset's page (status, publish with progress, sources, versions,
schedules, fields, records, exports) and the small JSON answers its script polls.

The rules (state machine, identifiers, cron, field configuration) are the datasets service's; this module
turns forms into its calls. Publishing goes through the same runtime as the API: request the run (the
dataset becomes ``queued``), commit, hand it to the app's worker pool.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response, StreamingResponse

from datawharf.datasets import control, fieldconfig, resources, schedules, service, versions
from datawharf.datasets.catalog import PublishedDataset
from datawharf.datasets.identifiers import check_dataset_id, slugify
from datawharf.datasets.metadata import title_of
from datawharf.errors import DatawharfError, InvalidInput
from datawharf.explore import access, records
from datawharf.exports import open_export
from datawharf.extract.types import FIELD_TYPES
from datawharf.odsql import QueryRequest
from datawharf.store.models.datasets import Dataset
from datawharf.web import dataset_panels
from datawharf.web.metadata_form import metadata_view
from datawharf.web.notices import saved
from datawharf.web.rendering import (
    BASE,
    BackofficeRoute,
    Visitor,
    csrf_checked,
    database_of,
    render,
    settings_of,
    signed_in,
)

router = APIRouter(prefix=f"{BASE}/datasets", route_class=BackofficeRoute, include_in_schema=False)
Current = Annotated[Visitor, Depends(signed_in)]

RUNNING_LABELS = {
    "queued": "Queued",
    "processing": "Processing",
    "saving_version": "Saving the version",
    "aborting_processing": "Aborting",
}


def status_view(dataset: Dataset) -> dict[str, Any]:
    """The status as the page and its polling script show it (the API's ``status_public`` plus a
    percentage, when the total size is known)."""
    status = control.status_public(dataset)
    progress = status["progress"]
    total = progress["bytes_total"]
    percent = round(100 * progress["bytes_done"] / total) if total else None
    if status["status"] == "idle" and status["is_published"] and status["run_uid"] is None:
        percent = 100 if percent is not None else None
    return {
        "status": status["status"],
        "label": RUNNING_LABELS.get(status["status"], status["status"].replace("_", " ").capitalize()),
        "is_running": status["status"] in service.RUNNING,
        "is_published": status["is_published"],
        "since": status["since"].isoformat() if status["since"] else None,
        "message": status["message"],
        "records_done": progress["records_done"],
        "records_errors_count": progress["records_errors_count"],
        "bytes_done": progress["bytes_done"],
        "bytes_total": total,
        "percent": percent,
    }


@router.get("/")
def dataset_list(request: Request, current: Current) -> Response:
    with database_of(request).session() as db:
        _total, rows = service.list_datasets(db, limit=1000, offset=0)
        datasets = [
            {
                "uid": d.uid,
                "dataset_id": d.dataset_id,
                "title": title_of(d.metadata_),
                "status": status_view(d),
            }
            for d in rows
        ]
    return render(request, "datasets/list.html", current=current, section="datasets", datasets=datasets)


@router.get("/identifier")
def suggest_identifier(request: Request, current: Current, title: str = "", dataset_id: str = "") -> Response:
    """What the dataset-information form shows as the title is typed: the identifier the title suggests
    (the core's ``slugify``), and whether the identifier in the field is valid and free."""
    suggestion = slugify(title)
    candidate = dataset_id or suggestion
    problem: str | None = None
    if candidate:
        try:
            check_dataset_id(candidate)
        except InvalidInput as exc:
            problem = exc.message
        else:
            with database_of(request).session() as db:
                if service.list_datasets(db, limit=1, offset=0, dataset_id=candidate)[0]:
                    problem = f"The identifier {candidate!r} is already taken: choose another one."
    else:
        problem = "Give a title, or type an identifier."
    return JSONResponse(
        {"suggestion": suggestion, "dataset_id": candidate, "ok": problem is None, "problem": problem}
    )


def _page_context(request: Request, uid: str) -> dict[str, Any]:
    settings = settings_of(request)
    with database_of(request).session() as db:
        dataset = service.get_dataset(db, uid)
        _n, resource_rows = resources.list_resources(db, uid, limit=100, offset=0)
        _n, version_rows = versions.list_versions(db, uid, limit=50, offset=0)
        _n, schedule_rows = schedules.list_schedules(db, uid, limit=50, offset=0)
        _n, config_rows = fieldconfig.list_configurations(db, uid, limit=500, offset=0)
        current_version = next((v for v in version_rows if v.uid == dataset.current_version_uid), None)
        shown = {
            "uid": dataset.uid,
            "dataset_id": dataset.dataset_id,
            "title": title_of(dataset.metadata_),
            "description": dataset.metadata_.get("default", {}).get("description", {}).get("value"),
            "is_published": dataset.is_published,
            "is_restricted": dataset.is_restricted,
        }
        status = status_view(dataset)
        sources = [resources.public(r) for r in resource_rows]
        fields = list(current_version.fields) if current_version else []
        return {
            "dataset": shown,
            "status": status,
            "sources": sources,
            "versions": [versions.public(v, dataset, settings) for v in version_rows],
            "schedules": [schedules.public(s) for s in schedule_rows],
            "configurations": [fieldconfig.public(c) for c in config_rows],
            "fields": fields,
            "field_types": FIELD_TYPES,
            "export_formats": dataset_panels.export_formats(fields),
            "conversion_errors": dataset_panels.conversion_errors(dataset, sources, fields),
            "explore": dataset_panels.explore_urls(shown),
            "map_panel": dataset_panels.map_panel(fields, settings),
            "chart_panel": dataset_panels.chart_panel(fields),
            "metadata_form": metadata_view(dataset),
        }


def dataset_page_with_error(
    request: Request, current: Visitor, uid: str, error: DatawharfError | None = None
) -> Response:
    return render(
        request,
        "datasets/detail.html",
        current=current,
        section="datasets",
        error=error,
        status_code=error.http_status if error else 200,
        **_page_context(request, uid),
    )


@router.get("/{uid}")
def dataset_page(request: Request, current: Current, uid: str) -> Response:
    return dataset_page_with_error(request, current, uid)


def _readable(request: Request, current: Visitor, uid: str) -> PublishedDataset:
    """The published dataset as the Explore API shows it to the signed-in key (restricted ones only for a
    key with ``explore_restricted_dataset``)."""
    with database_of(request).session() as db:
        dataset_id = service.get_dataset(db, uid).dataset_id
        return access.readable_dataset(db, settings_of(request), dataset_id, current.api_key)


def explore_query(
    select: str | None = None,
    where: str | None = None,
    group_by: str | None = None,
    order_by: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> QueryRequest:
    """The Explore API's query parameters that the dataset page's records table, map and chart send."""
    return QueryRequest(
        select=select, where=where, group_by=group_by, order_by=order_by, limit=limit, offset=offset
    )


@router.get("/{uid}/records")
def restricted_records(
    request: Request, current: Current, uid: str, query: Annotated[QueryRequest, Depends(explore_query)]
) -> Response:
    """The records table, chart and map of a restricted dataset: the browser has no API key to send to
    the Explore API, so the page asks here, and the Explore service answers with the signed-in key's
    rights."""
    try:
        published = _readable(request, current, uid)
        page = records.query_records(request.app.state.query_engine, published, query)
    except DatawharfError as error:
        return JSONResponse(error.to_body(), status_code=error.http_status)
    return JSONResponse(jsonable_encoder(page.body()))


@router.get("/{uid}/exports/{format}")
def restricted_export(
    request: Request,
    current: Current,
    uid: str,
    format: str,
    query: Annotated[QueryRequest, Depends(explore_query)],
) -> Response:
    """A restricted dataset's export (and its map's GeoJSON), streamed by the Explore export service (see
    ``restricted_records``)."""
    published = _readable(request, current, uid)
    export = open_export(request.app.state.export_engine, published, query, format)
    return StreamingResponse(
        export.chunks,
        media_type=export.media_type,
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )


@router.get("/{uid}/status")
def dataset_status(request: Request, current: Current, uid: str) -> Response:
    with database_of(request).session() as db:
        return JSONResponse(status_view(service.get_dataset(db, uid)))


def _act(
    request: Request, current: Visitor, uid: str, permission: str, action: Any, what: str, anchor: str = ""
) -> Response:
    """Run ``action(db)`` for a dataset, then show the page with ``what`` confirmed; a refusal is shown
    on the dataset's page."""
    try:
        current.require(permission)
        with database_of(request).session() as db:
            action(db)
    except DatawharfError as error:
        return dataset_page_with_error(request, current, uid, error)
    return saved(f"{BASE}/datasets/{uid}", what, anchor)


def start_publish(request: Request, uid: str) -> None:
    """Queue a publish and hand it to the app's workers (what ``POST .../publish/`` does)."""
    with database_of(request).session() as db:
        request.app.state.datasets_runtime.publish(db, uid)


@router.post("/{uid}/publish", dependencies=[Depends(csrf_checked)])
def publish(request: Request, current: Current, uid: str) -> Response:
    try:
        current.require("publish_dataset")
        start_publish(request, uid)
    except DatawharfError as error:
        return dataset_page_with_error(request, current, uid, error)
    return saved(f"{BASE}/datasets/{uid}", "publish")


@router.post("/{uid}/abort", dependencies=[Depends(csrf_checked)])
def abort(request: Request, current: Current, uid: str) -> Response:
    try:
        current.require("publish_dataset")
        with database_of(request).session() as db:
            request.app.state.datasets_runtime.abort(db, uid)
    except DatawharfError as error:
        return dataset_page_with_error(request, current, uid, error)
    return saved(f"{BASE}/datasets/{uid}", "abort")


@router.post("/{uid}/unpublish", dependencies=[Depends(csrf_checked)])
def unpublish(request: Request, current: Current, uid: str) -> Response:
    return _act(
        request, current, uid, "publish_dataset", lambda db: control.request_unpublish(db, uid), "unpublished"
    )


@router.post("/{uid}/versions/{version_uid}/restore", dependencies=[Depends(csrf_checked)])
def restore(request: Request, current: Current, uid: str, version_uid: str) -> Response:
    settings = settings_of(request)
    return _act(
        request,
        current,
        uid,
        "publish_dataset",
        lambda db: versions.restore_version(db, settings, uid, version_uid),
        "restored",
        "versions-heading",
    )


@router.post("/{uid}/schedules", dependencies=[Depends(csrf_checked)])
def add_schedule(
    request: Request, current: Current, uid: str, cron_schedule: Annotated[str, Form()] = ""
) -> Response:
    return _act(
        request,
        current,
        uid,
        "edit_dataset",
        lambda db: schedules.create_schedule(db, uid, cron_schedule.strip()),
        "schedule",
        "schedule-heading",
    )


@router.post("/{uid}/schedules/{schedule_uid}/delete", dependencies=[Depends(csrf_checked)])
def delete_schedule(request: Request, current: Current, uid: str, schedule_uid: str) -> Response:
    return _act(
        request,
        current,
        uid,
        "edit_dataset",
        lambda db: schedules.delete_schedule(db, uid, schedule_uid),
        "schedule-deleted",
        "schedule-heading",
    )


@router.post("/{uid}/fields/{name}", dependencies=[Depends(csrf_checked)])
def configure_field(
    request: Request,
    current: Current,
    uid: str,
    name: str,
    to_name: Annotated[str, Form()] = "",
    label: Annotated[str, Form()] = "",
    type: Annotated[str, Form()] = "",
    current_label: Annotated[str, Form()] = "",
    current_type: Annotated[str, Form()] = "",
) -> Response:
    """One form a field: a rename (name and/or label) and a type change become field configurations,
    applied at the next publish."""

    def configure(db: Any) -> None:
        new_name, new_label = to_name.strip() or name, label.strip()
        if new_name != name or (new_label and new_label != current_label):
            body = {
                "from_name": name,
                "to_name": new_name,
                "field_label": new_label or current_label or new_name,
            }
            fieldconfig.create_configuration(db, uid, "rename", f"Rename {name}", body)
        if type and type != current_type:
            fieldconfig.create_configuration(
                db, uid, "type", f"Type of {new_name}", {"field": new_name, "type_param": type}
            )

    return _act(request, current, uid, "edit_dataset", configure, "field", "fields-heading")


@router.post("/{uid}/configurations/{config_uid}/delete", dependencies=[Depends(csrf_checked)])
def delete_configuration(request: Request, current: Current, uid: str, config_uid: str) -> Response:
    return _act(
        request,
        current,
        uid,
        "edit_dataset",
        lambda db: fieldconfig.delete_configuration(db, uid, config_uid),
        "configuration-deleted",
        "fields-heading",
    )


@router.post("/{uid}/delete", dependencies=[Depends(csrf_checked)])
def delete_dataset(request: Request, current: Current, uid: str) -> Response:
    settings = settings_of(request)
    try:
        current.require("manage_dataset")
        with database_of(request).session() as db:
            service.delete_dataset(db, settings, uid)
    except DatawharfError as error:
        return dataset_page_with_error(request, current, uid, error)
    return saved(f"{BASE}/datasets/", "dataset-deleted")
