"""``/harvesters/``: S3 harvesters, with the reference's harvester routes.

The reference's ``Harvester`` shape with ``type: "amazon_s3"`` and datawharf's own fields beside it
(``url``, ``connection``, ``mode``, templates...). ``start`` runs a pass on a worker of this server and
returns at once (``status`` says where it stands); ``abort`` stops it and the publishes of its datasets;
``publish``/``unpublish`` act on every dataset it made; ``preview``/``unsaved_preview`` show what a pass
would do; ``errors`` lists what the last pass could not do; ``schedules`` manage its one schedule.
Managing harvesters needs ``edit_domain``: a harvester makes and publishes datasets from a connection.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from datawharf.api.deps import EditDomain, SessionDep, SettingsDep
from datawharf.api.pagination import PageDep, Paginated, paginated
from datawharf.datasets.runtime import DatasetsRuntime
from datawharf.harvest import control, preview, schedules, service
from datawharf.harvest.schemas import (
    HarvesterAction,
    HarvesterErrors,
    HarvesterPreview,
    HarvesterPublic,
    HarvesterSchedule,
)
from datawharf.harvest.service import HarvesterConfig

router = APIRouter(prefix="/harvesters", tags=["Harvesters"])


class ConnectionRef(BaseModel):
    uid: str = Field(min_length=1, max_length=32)


class HarvesterBody(BaseModel):
    """Create (``name`` and ``url`` required) or update (every field optional)."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["amazon_s3"] = "amazon_s3"
    name: str | None = Field(None, min_length=1, max_length=500)
    url: str | None = Field(None, min_length=1, max_length=8192, description="A prefix or a glob.")
    connection: ConnectionRef | None = None
    mode: Literal["object", "folder"] | None = None
    extractor_type: str | None = Field(None, max_length=64)
    params: dict[str, Any] | None = None
    dataset_id_template: str | None = Field(None, max_length=200)
    title_template: str | None = Field(None, max_length=500)
    restrict_datasets_visibility: bool | None = None
    forced_metas: dict[str, Any] | None = None
    cron_schedule: str | None = Field(None, max_length=200, description="Five unix-cron fields; '' for none.")

    def config(self, *, update: bool, by: str) -> HarvesterConfig:
        given = self.model_fields_set
        connection_uid = self.connection.uid if self.connection else ("" if "connection" in given else None)
        return HarvesterConfig(
            name=self.name,
            url=self.url,
            connection_uid=connection_uid if update else (self.connection.uid if self.connection else None),
            mode=self.mode,
            extractor_type=self.extractor_type,
            params=self.params,
            dataset_id_template=self.dataset_id_template,
            title_template=self.title_template,
            restrict_datasets_visibility=self.restrict_datasets_visibility,
            forced_metas=self.forced_metas,
            cron_schedule=self.cron_schedule,
            updated_by=by,
        )


def get_runtime(request: Request) -> DatasetsRuntime:
    return request.app.state.datasets_runtime


@router.get(
    "/",
    operation_id="list-harvesters",
    summary="List harvesters",
    response_model=Paginated[HarvesterPublic],
)
def list_harvesters(request: Request, page: PageDep, session: SessionDep, _key: EditDomain) -> dict[str, Any]:
    total, rows = service.list_harvesters(session, limit=page.limit, offset=page.offset)
    return paginated(request, page, total, [service.public(session, h) for h in rows])


@router.post(
    "/",
    status_code=201,
    operation_id="create-harvester",
    summary="Create harvester",
    response_model=HarvesterPublic,
)
def create_harvester(
    body: HarvesterBody, session: SessionDep, settings: SettingsDep, key: EditDomain
) -> dict[str, Any]:
    harvester = service.create_harvester(
        session, settings, body.config(update=False, by=key.label), permissions=key.permissions
    )
    return service.public(session, harvester)


@router.get(
    "/{harvester_uid}/",
    operation_id="retrieve-harvester",
    summary="Retrieve harvester",
    response_model=HarvesterPublic,
)
def retrieve_harvester(harvester_uid: str, session: SessionDep, _key: EditDomain) -> dict[str, Any]:
    return service.public(session, service.get_harvester(session, harvester_uid))


@router.put(
    "/{harvester_uid}/",
    operation_id="update-harvester",
    summary="Update harvester",
    response_model=HarvesterPublic,
)
def update_harvester(
    harvester_uid: str, body: HarvesterBody, session: SessionDep, settings: SettingsDep, key: EditDomain
) -> dict[str, Any]:
    harvester = service.update_harvester(
        session, settings, harvester_uid, body.config(update=True, by=key.label), permissions=key.permissions
    )
    return service.public(session, harvester)


@router.delete(
    "/{harvester_uid}/", status_code=204, operation_id="delete-harvester", summary="Delete harvester"
)
def delete_harvester(harvester_uid: str, session: SessionDep, _key: EditDomain) -> Response:
    """The harvester goes; the datasets it made stay (delete them one by one if wanted)."""
    service.delete_harvester(session, harvester_uid)
    return Response(status_code=204)


@router.post(
    "/{harvester_uid}/start/",
    operation_id="start-harvester",
    summary="Start harvesting",
    response_model=HarvesterPublic,
)
def start_harvester(
    harvester_uid: str, request: Request, session: SessionDep, _key: EditDomain
) -> dict[str, Any]:
    run_uid = control.request_pass(session, harvester_uid)
    session.commit()  # before the worker starts: its pass reads the harvester in its own session
    get_runtime(request).harvest(harvester_uid, run_uid)
    return service.public(session, service.get_harvester(session, harvester_uid))


@router.post(
    "/{harvester_uid}/abort/",
    operation_id="abort-harvester",
    summary="Abort harvesting",
    response_model=HarvesterPublic,
)
def abort_harvester(
    harvester_uid: str, request: Request, session: SessionDep, _key: EditDomain
) -> dict[str, Any]:
    """Stops the pass (its unsaved work discarded) and every publish queued or running on a dataset of
    the harvester (their previous versions stay served); 409 ``harvester_not_running`` if none is."""
    runtime = get_runtime(request)
    runtime.stop_passes_here(harvester_uid)
    aborted = control.request_abort(session, harvester_uid)
    session.commit()  # before the workers are signalled: they read the runs' statuses
    runtime.abort_harvest(aborted)
    return service.public(session, service.get_harvester(session, harvester_uid))


def _action(counted: control.Counted) -> dict[str, Any]:
    return {
        "detail": "ok",
        "done": len(counted.done),
        "already": counted.already,
        "busy": counted.busy,
        "gone": counted.gone,
    }


@router.post(
    "/{harvester_uid}/publish/",
    operation_id="publish-harvester",
    summary="Publish a harvester's datasets",
    response_model=HarvesterAction,
)
def publish_harvester(
    harvester_uid: str, request: Request, session: SessionDep, settings: SettingsDep, _key: EditDomain
) -> dict[str, Any]:
    """Publishes every dataset of the harvester that is not published, whose object was there at the
    last pass (published ones are left: a pass refreshes them)."""
    counted = control.publish_all(session, harvester_uid, max_attempts=settings.run_max_attempts)
    session.commit()  # before the workers start: they claim the runs in their own sessions
    for dataset_uid, run_uid in counted.done:
        if run_uid is not None:
            get_runtime(request).submit_run(dataset_uid, run_uid)
    return _action(counted)


@router.post(
    "/{harvester_uid}/unpublish/",
    operation_id="unpublish-harvester",
    summary="Unpublish a harvester's datasets",
    response_model=HarvesterAction,
)
def unpublish_harvester(harvester_uid: str, session: SessionDep, _key: EditDomain) -> dict[str, Any]:
    """Unpublishes every published dataset of the harvester (they stay, versions and all; its next pass
    publishes those whose object is still there: delete its schedule to keep them off)."""
    return _action(control.unpublish_all(session, harvester_uid))


@router.get(
    "/{harvester_uid}/preview/",
    operation_id="harvester-preview",
    summary="Preview harvesting",
    response_model=HarvesterPreview,
)
def preview_harvester(
    harvester_uid: str, session: SessionDep, settings: SettingsDep, _key: EditDomain
) -> dict[str, Any]:
    """The datasets a pass would create, refresh, republish or unpublish now, from the listing's first
    page (one request, no object read)."""
    harvester = service.get_harvester(session, harvester_uid)
    return preview.preview(session, settings, harvester, saved_uid=harvester_uid)


@router.post(
    "/{harvester_uid}/unsaved_preview/",
    operation_id="harvester-unsaved-preview",
    summary="Preview harvesting configuration",
    response_model=HarvesterPreview,
)
def unsaved_preview_harvester(
    harvester_uid: str, body: HarvesterBody, session: SessionDep, settings: SettingsDep, key: EditDomain
) -> dict[str, Any]:
    """As ``preview``, for the saved harvester with the body's fields over it (nothing is saved)."""
    config = body.config(update=True, by=key.label)
    harvester = service.merged(session, settings, harvester_uid, config, permissions=key.permissions)
    return preview.preview(session, settings, harvester, saved_uid=harvester_uid)


class ScheduleBody(BaseModel):
    """The reference's ``HarvesterSchedule`` as given (``uid`` is read-only: ignored)."""

    model_config = ConfigDict(extra="ignore")

    cron_schedule: str = Field(min_length=1, max_length=200, examples=["30 1 * * *"])
    timezone: str = Field("UTC", min_length=1, max_length=64, examples=["Europe/Berlin"])


@router.get(
    "/{harvester_uid}/schedules/",
    operation_id="list-harvester-schedules",
    summary="List harvester schedules",
    response_model=Paginated[HarvesterSchedule],
    tags=["Harvester schedules"],
)
def list_schedules(
    harvester_uid: str, request: Request, page: PageDep, session: SessionDep, _key: EditDomain
) -> dict[str, Any]:
    found = schedules.list_schedules(session, harvester_uid)
    return paginated(request, page, len(found), found[page.offset : page.offset + page.limit])


@router.post(
    "/{harvester_uid}/schedules/",
    status_code=201,
    operation_id="create-harvester-schedule",
    summary="Create harvester schedule",
    response_model=HarvesterSchedule,
    tags=["Harvester schedules"],
)
def create_schedule(
    harvester_uid: str, body: ScheduleBody, session: SessionDep, _key: EditDomain
) -> dict[str, Any]:
    """A harvester has one schedule: a second is refused (409 ``harvester_schedule_exists``)."""
    return schedules.create_schedule(session, harvester_uid, body.cron_schedule, body.timezone)


@router.get(
    "/{harvester_uid}/schedules/{schedule_uid}/",
    operation_id="retrieve-harvester-schedule",
    summary="Retrieve a harvester schedule",
    response_model=HarvesterSchedule,
    tags=["Harvester schedules"],
)
def retrieve_schedule(
    harvester_uid: str, schedule_uid: str, session: SessionDep, _key: EditDomain
) -> dict[str, Any]:
    return schedules.get_schedule(session, harvester_uid, schedule_uid)


@router.put(
    "/{harvester_uid}/schedules/{schedule_uid}/",
    operation_id="update-harvester-schedule",
    summary="Update harvester schedule",
    response_model=HarvesterSchedule,
    tags=["Harvester schedules"],
)
def update_schedule(
    harvester_uid: str, schedule_uid: str, body: ScheduleBody, session: SessionDep, _key: EditDomain
) -> dict[str, Any]:
    return schedules.update_schedule(session, harvester_uid, schedule_uid, body.cron_schedule, body.timezone)


@router.delete(
    "/{harvester_uid}/schedules/{schedule_uid}/",
    status_code=204,
    operation_id="delete-harvester-schedule",
    summary="Delete harvester schedule",
    tags=["Harvester schedules"],
)
def delete_schedule(harvester_uid: str, schedule_uid: str, session: SessionDep, _key: EditDomain) -> Response:
    schedules.delete_schedule(session, harvester_uid, schedule_uid)
    return Response(status_code=204)


@router.get(
    "/{harvester_uid}/errors/",
    operation_id="harvester-list-errors",
    summary="List errors",
    response_model=HarvesterErrors,
)
def harvester_errors(harvester_uid: str, session: SessionDep, _key: EditDomain) -> dict[str, Any]:
    return service.errors(service.get_harvester(session, harvester_uid))
