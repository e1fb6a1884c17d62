"""``/datasets/{uid}/versions/`` (list, retrieve, restore, delete) and ``/datasets/{uid}/schedules/`` (cron).

Deleting a version is beyond the reference (which declares none): without it an operator whose
warehouse is full could only delete whole datasets.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from datawharf.api.automation.datasets import DatasetPublic
from datawharf.api.deps import get_session, get_settings, require
from datawharf.api.pagination import Page, page_params, paginated
from datawharf.datasets import schedules, service, versions
from datawharf.settings import Settings
from datawharf.store.models import ApiKey

router = APIRouter(prefix="/datasets/{dataset_uid}", tags=["Dataset versions", "Dataset schedules"])
_edit = require("edit_dataset")


@router.get("/versions/", operation_id="list-dataset-versions", summary="List dataset versions")
def list_versions(
    dataset_uid: str,
    request: Request,
    page: Page = Depends(page_params),
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    _key: ApiKey = Depends(_edit),
) -> dict:
    total, rows = versions.list_versions(session, dataset_uid, limit=page.limit, offset=page.offset)
    dataset = service.get_dataset(session, dataset_uid)
    return paginated(request, page, total, [versions.public(v, dataset, settings) for v in rows])


@router.get("/versions/{version_uid}/", operation_id="retrieve-dataset-version", summary="Retrieve version")
def retrieve_version(
    dataset_uid: str,
    version_uid: str,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    _key: ApiKey = Depends(_edit),
) -> dict:
    version = versions.get_version(session, dataset_uid, version_uid)
    return versions.public(version, service.get_dataset(session, dataset_uid), settings)


@router.post("/versions/{version_uid}/restore/", operation_id="restore-version", summary="Restore version")
def restore_version(
    dataset_uid: str,
    version_uid: str,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    _key: ApiKey = Depends(require("publish_dataset")),
) -> DatasetPublic:
    return DatasetPublic.of(versions.restore_version(session, settings, dataset_uid, version_uid))


@router.delete(
    "/versions/{version_uid}/",
    status_code=204,
    operation_id="delete-dataset-version",
    summary="Delete version",
    responses={409: {"description": "The version is the current one (`version_is_current`)."}},
)
def delete_version(
    dataset_uid: str,
    version_uid: str,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    _key: ApiKey = Depends(require("manage_dataset")),
) -> Response:
    versions.delete_version(session, settings, dataset_uid, version_uid)
    return Response(status_code=204)


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    cron_schedule: str = Field(min_length=1, max_length=200, examples=["0 * * * *"])


@router.get("/schedules/", operation_id="list-dataset-schedules", summary="List dataset schedules")
def list_schedules(
    dataset_uid: str,
    request: Request,
    page: Page = Depends(page_params),
    session: Session = Depends(get_session),
    _key: ApiKey = Depends(_edit),
) -> dict:
    total, rows = schedules.list_schedules(session, dataset_uid, limit=page.limit, offset=page.offset)
    return paginated(request, page, total, [schedules.public(s) for s in rows])


@router.post(
    "/schedules/", status_code=201, operation_id="create-dataset-schedule", summary="Create schedule"
)
def create_schedule(
    dataset_uid: str, body: ScheduleIn, session: Session = Depends(get_session), _key: ApiKey = Depends(_edit)
) -> dict:
    return schedules.public(schedules.create_schedule(session, dataset_uid, body.cron_schedule))


@router.get(
    "/schedules/{schedule_uid}/", operation_id="retrieve-dataset-schedule", summary="Retrieve schedule"
)
def retrieve_schedule(
    dataset_uid: str,
    schedule_uid: str,
    session: Session = Depends(get_session),
    _key: ApiKey = Depends(_edit),
) -> dict:
    return schedules.public(schedules.get_schedule(session, dataset_uid, schedule_uid))


@router.put("/schedules/{schedule_uid}/", operation_id="update-dataset-schedule", summary="Update schedule")
def update_schedule(
    dataset_uid: str,
    schedule_uid: str,
    body: ScheduleIn,
    session: Session = Depends(get_session),
    _key: ApiKey = Depends(_edit),
) -> dict:
    return schedules.public(schedules.update_schedule(session, dataset_uid, schedule_uid, body.cron_schedule))


@router.delete(
    "/schedules/{schedule_uid}/",
    status_code=204,
    operation_id="delete-dataset-schedule",
    summary="Delete schedule",
)
def delete_schedule(
    dataset_uid: str,
    schedule_uid: str,
    session: Session = Depends(get_session),
    _key: ApiKey = Depends(_edit),
) -> Response:
    schedules.delete_schedule(session, dataset_uid, schedule_uid)
    return Response(status_code=204)
