"""Catalog > Harvesters: the list, a form to create one, "Run now", "Abort", "Publish all", "Unpublish
all", and a page previewing what a pass would do.

Every rule is ``datawharf.harvest``'s (the checks in ``service``, the pass in ``harvest``, the actions in
``control``, the preview in ``preview``); "Run now" hands the pass to the runtime's workers as the API's
``start`` does, and the page shows the last pass's counts and errors by key. A refused form is shown
again with the message and what was typed; a refused action (abort with nothing running) with its
message above the list.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from datawharf.connections import service as connection_service
from datawharf.errors import DatawharfError
from datawharf.extract.registry import EXTRACTORS
from datawharf.harvest import control, preview, service
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

router = APIRouter(prefix=f"{BASE}/harvesters", route_class=BackofficeRoute, include_in_schema=False)
PERMISSION = "edit_domain"  # as the API: a harvester makes and publishes datasets from a connection


EMPTY_FORM = {
    "name": "",
    "url": "",
    "connection": "",
    "mode": "object",
    "extractor_type": "",
    "dataset_id_template": "{path}",
    "title_template": "{path}",
    "cron_schedule": "",
}


def editor(current: Annotated[Visitor, Depends(signed_in)]) -> Visitor:
    current.require(PERMISSION)
    return current


Editor = Annotated[Visitor, Depends(editor)]


def _page(
    request: Request,
    current: Visitor,
    *,
    form: dict[str, str] | None = None,
    error: DatawharfError | None = None,
    refused: DatawharfError | None = None,
) -> Response:
    with database_of(request).session() as db:
        _total, rows = service.list_harvesters(db, limit=1000, offset=0)
        harvesters = [{**service.public(db, h), "errors": service.errors(h)} for h in rows]
        _count, found = connection_service.list_connections(db, limit=1000, offset=0, sort="-created_at")
        connections = [(c.uid, c.title or c.uid) for c in found if c.is_reusable]
    return render(
        request,
        "harvesters/list.html",
        current=current,
        section="harvesters",
        harvesters=harvesters,
        connections=connections,
        extractors=sorted(EXTRACTORS),
        form={**EMPTY_FORM, **(form or {})},
        error=error,
        refused=refused,
        status_code=failed.http_status if (failed := error or refused) else 200,
    )


@router.get("/")
def harvester_list(request: Request, current: Editor) -> Response:
    return _page(request, current)


@router.post("/new", dependencies=[Depends(csrf_checked)])
def create_harvester(
    request: Request,
    current: Editor,
    name: Annotated[str, Form()] = "",
    url: Annotated[str, Form()] = "",
    connection: Annotated[str, Form()] = "",
    mode: Annotated[str, Form()] = "object",
    extractor_type: Annotated[str, Form()] = "",
    dataset_id_template: Annotated[str, Form()] = "{path}",
    title_template: Annotated[str, Form()] = "{path}",
    cron_schedule: Annotated[str, Form()] = "",
) -> Response:
    typed: dict[str, Any] = {
        "name": name.strip(),
        "url": url.strip(),
        "connection": connection,
        "mode": mode,
        "extractor_type": extractor_type,
        "dataset_id_template": dataset_id_template,
        "title_template": title_template,
        "cron_schedule": cron_schedule.strip(),
    }
    config = service.HarvesterConfig(
        name=typed["name"] or None,
        url=typed["url"] or None,
        connection_uid=connection or None,
        mode=mode,
        extractor_type=extractor_type or None,
        params={},
        dataset_id_template=dataset_id_template,
        title_template=title_template,
        cron_schedule=typed["cron_schedule"] or None,
        updated_by=current.api_key.label if current.api_key else None,
    )
    assert current.api_key is not None
    try:
        with database_of(request).session() as db:
            service.create_harvester(
                db, settings_of(request), config, permissions=current.api_key.permissions
            )
    except DatawharfError as error:
        return _page(request, current, form=typed, error=error)
    return saved(f"{BASE}/harvesters/", "harvester")


@router.post("/{uid}/run", dependencies=[Depends(csrf_checked)])
def run_now(request: Request, current: Editor, uid: str) -> Response:
    with database_of(request).session() as db:
        run_uid = control.request_pass(db, uid)
    request.app.state.datasets_runtime.harvest(uid, run_uid)
    return saved(f"{BASE}/harvesters/", "harvest-started")


@router.post("/{uid}/abort", dependencies=[Depends(csrf_checked)])
def abort(request: Request, current: Editor, uid: str) -> Response:
    runtime = request.app.state.datasets_runtime
    runtime.stop_passes_here(uid)
    try:
        with database_of(request).session() as db:
            aborted = control.request_abort(db, uid)
    except DatawharfError as refused:
        return _page(request, current, refused=refused)
    runtime.abort_harvest(aborted)
    return saved(f"{BASE}/harvesters/", "harvest-aborted")


@router.post("/{uid}/publish", dependencies=[Depends(csrf_checked)])
def publish_all(request: Request, current: Editor, uid: str) -> Response:
    with database_of(request).session() as db:
        counted = control.publish_all(db, uid, max_attempts=settings_of(request).run_max_attempts)
    for dataset_uid, run_uid in counted.done:
        if run_uid is not None:
            request.app.state.datasets_runtime.submit_run(dataset_uid, run_uid)
    return saved(f"{BASE}/harvesters/", "harvest-published")


@router.post("/{uid}/unpublish", dependencies=[Depends(csrf_checked)])
def unpublish_all(request: Request, current: Editor, uid: str) -> Response:
    with database_of(request).session() as db:
        control.unpublish_all(db, uid)
    return saved(f"{BASE}/harvesters/", "harvest-unpublished")


@router.post("/{uid}/preview", dependencies=[Depends(csrf_checked)])
def preview_page(request: Request, current: Editor, uid: str) -> Response:
    """What a pass would do now (the listing's first page); an unreadable bucket is shown, not raised.
    A POST with the token, not a GET: listing the bucket reaches out, which no cross-site link may make
    the backoffice do (as the wizard's preview)."""
    problem: DatawharfError | None = None
    shown: dict[str, Any] = {"total_count": 0, "results": [], "complete": True}
    with database_of(request).session() as db:
        harvester = service.get_harvester(db, uid)
        public = service.public(db, harvester)
        try:
            shown = preview.preview(db, settings_of(request), harvester, saved_uid=uid)
        except DatawharfError as error:
            problem = error
    return render(
        request,
        "harvesters/preview.html",
        current=current,
        section="harvesters",
        harvester=public,
        preview=shown,
        problem=problem,
    )
