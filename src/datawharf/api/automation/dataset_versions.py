"""``/datasets/{uid}/versions/`` (list, retrieve, restore, delete) and ``/datasets/{uid}/schedules/`` (cron).

Deleting a version is beyond the reference (which declares none): without it an operator whose
warehouse is full could only delete whole datasets.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from datawharf.api.deps import EditDataset, ManageDataset, PublishDataset, SessionDep, SettingsDep
from datawharf.api.pagination import PageDep, Paginated, paginated
from datawharf.datasets import schedules, service, versions
from datawharf.datasets.schemas import (
    DatasetPublic,
    ScheduleCreate,
    SchedulePublic,
    ScheduleUpdate,
    VersionPublic,
)

router = APIRouter(prefix="/datasets/{dataset_uid}", tags=["Dataset versions", "Dataset schedules"])


@router.get(
    "/versions/",
    operation_id="list-dataset-versions",
    summary="List dataset versions",
    response_model=Paginated[VersionPublic],
)
def list_versions(
    dataset_uid: str,
    request: Request,
    page: PageDep,
    session: SessionDep,
    settings: SettingsDep,
    _key: EditDataset,
) -> dict[str, Any]:
    total, rows = versions.list_versions(session, dataset_uid, limit=page.limit, offset=page.offset)
    dataset = service.get_dataset(session, dataset_uid)
    return paginated(request, page, total, [versions.public(v, dataset, settings) for v in rows])


@router.get(
    "/versions/{version_uid}/",
    operation_id="retrieve-dataset-version",
    summary="Retrieve version",
    response_model=VersionPublic,
)
def retrieve_version(
    dataset_uid: str,
    version_uid: str,
    session: SessionDep,
    settings: SettingsDep,
    _key: EditDataset,
) -> dict[str, Any]:
    version = versions.get_version(session, dataset_uid, version_uid)
    return versions.public(version, service.get_dataset(session, dataset_uid), settings)


@router.post("/versions/{version_uid}/restore/", operation_id="restore-version", summary="Restore version")
def restore_version(
    dataset_uid: str,
    version_uid: str,
    session: SessionDep,
    settings: SettingsDep,
    _key: PublishDataset,
) -> DatasetPublic:
    restored = versions.restore_version(session, settings, dataset_uid, version_uid)
    return DatasetPublic.of(restored, settings.default_language)


@router.delete(
    "/versions/{version_uid}/",
    status_code=204,
    operation_id="delete-dataset-version",
    summary="Delete version",
    responses={409: {"description": "The version is the current one (`version_is_current`)."}},
)
def delete_version(
    dataset_uid: str, version_uid: str, session: SessionDep, settings: SettingsDep, _key: ManageDataset
) -> Response:
    versions.delete_version(session, settings, dataset_uid, version_uid)
    return Response(status_code=204)


@router.get(
    "/schedules/",
    operation_id="list-dataset-schedules",
    summary="List dataset schedules",
    response_model=Paginated[SchedulePublic],
)
def list_schedules(
    dataset_uid: str,
    request: Request,
    page: PageDep,
    session: SessionDep,
    _key: EditDataset,
) -> dict[str, Any]:
    total, rows = schedules.list_schedules(session, dataset_uid, limit=page.limit, offset=page.offset)
    return paginated(request, page, total, [schedules.public(s) for s in rows])


@router.post(
    "/schedules/",
    status_code=201,
    operation_id="create-dataset-schedule",
    summary="Create schedule",
    response_model=SchedulePublic,
)
def create_schedule(
    dataset_uid: str,
    body: ScheduleCreate,
    session: SessionDep,
    _key: EditDataset,
) -> dict[str, Any]:
    return schedules.public(schedules.create_schedule(session, dataset_uid, body.cron_schedule))


@router.get(
    "/schedules/{schedule_uid}/",
    operation_id="retrieve-dataset-schedule",
    summary="Retrieve schedule",
    response_model=SchedulePublic,
)
def retrieve_schedule(
    dataset_uid: str,
    schedule_uid: str,
    session: SessionDep,
    _key: EditDataset,
) -> dict[str, Any]:
    return schedules.public(schedules.get_schedule(session, dataset_uid, schedule_uid))


@router.put(
    "/schedules/{schedule_uid}/",
    operation_id="update-dataset-schedule",
    summary="Update schedule",
    response_model=SchedulePublic,
)
def update_schedule(
    dataset_uid: str,
    schedule_uid: str,
    body: ScheduleUpdate,
    session: SessionDep,
    _key: EditDataset,
) -> dict[str, Any]:
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
    session: SessionDep,
    _key: EditDataset,
) -> Response:
    schedules.delete_schedule(session, dataset_uid, schedule_uid)
    return Response(status_code=204)
