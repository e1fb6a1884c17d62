"""``/datasets/``: datasets, and the publish / abort / unpublish / status actions on them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response

from datawharf.api.deps import (
    CreateDataset,
    EditDataset,
    ManageDataset,
    PublishDataset,
    SessionDep,
    SettingsDep,
)
from datawharf.api.pagination import PageDep, Paginated, paginated
from datawharf.datasets import control, service
from datawharf.datasets.runtime import DatasetsRuntime
from datawharf.datasets.schemas import (
    ActionDone,
    DatasetCreate,
    DatasetPublic,
    DatasetUpdate,
    StatusPublic,
)

router = APIRouter(prefix="/datasets", tags=["Datasets"])


def get_runtime(request: Request) -> DatasetsRuntime:
    return request.app.state.datasets_runtime


@router.get(
    "/", operation_id="list-datasets", summary="List datasets", response_model=Paginated[DatasetPublic]
)
def list_datasets(
    request: Request,
    page: PageDep,
    session: SessionDep,
    settings: SettingsDep,
    _key: EditDataset,
    dataset_id: str | None = Query(None, description="Find a dataset from its dataset_id"),
) -> dict[str, Any]:
    total, rows = service.list_datasets(session, limit=page.limit, offset=page.offset, dataset_id=dataset_id)
    return paginated(request, page, total, [DatasetPublic.of(d, settings.default_language) for d in rows])


@router.post("/", status_code=201, operation_id="create-dataset", summary="Create dataset")
def create_dataset(
    body: DatasetCreate,
    session: SessionDep,
    settings: SettingsDep,
    _key: CreateDataset,
    strict: bool = Query(False, description="Refuse a missing or taken dataset_id instead of making one."),
) -> DatasetPublic:
    dataset = service.create_dataset(
        session,
        metadata=body.metadata,
        dataset_id=body.dataset_id,
        is_restricted=bool(body.is_restricted),
        strict=strict,
    )
    return DatasetPublic.of(dataset, settings.default_language)


@router.get("/{dataset_uid}/", operation_id="retrieve-dataset", summary="Retrieve dataset")
def retrieve_dataset(
    dataset_uid: str,
    session: SessionDep,
    settings: SettingsDep,
    _key: EditDataset,
) -> DatasetPublic:
    return DatasetPublic.of(service.get_dataset(session, dataset_uid), settings.default_language)


@router.put("/{dataset_uid}/", operation_id="update-dataset", summary="Update dataset")
def update_dataset(
    dataset_uid: str,
    session: SessionDep,
    settings: SettingsDep,
    _key: EditDataset,
    body: DatasetUpdate | None = None,
) -> DatasetPublic:
    """A body is optional, as the reference declares it: without one nothing changes, ``modified``
    included (huwise-utils-py's ``refresh()`` sends none)."""
    if body is None:
        return DatasetPublic.of(service.get_dataset(session, dataset_uid), settings.default_language)
    dataset = service.update_dataset(
        session,
        dataset_uid,
        metadata=body.metadata if body.metadata else None,
        dataset_id=body.dataset_id,
        is_restricted=body.is_restricted,
    )
    return DatasetPublic.of(dataset, settings.default_language)


@router.delete("/{dataset_uid}/", status_code=204, operation_id="delete-dataset", summary="Delete dataset")
def delete_dataset(
    dataset_uid: str,
    session: SessionDep,
    settings: SettingsDep,
    _key: ManageDataset,
) -> Response:
    service.delete_dataset(session, settings, dataset_uid)
    return Response(status_code=204)


@router.post("/{dataset_uid}/publish/", operation_id="publish-dataset", summary="Publish dataset")
def publish_dataset(
    dataset_uid: str,
    request: Request,
    session: SessionDep,
    _key: PublishDataset,
    only_if_changed: bool = Query(
        False, description="Do nothing (and say so) when the objects' ETag and size did not change."
    ),
) -> ActionDone:
    get_runtime(request).publish(session, dataset_uid, only_if_changed=only_if_changed)
    return ActionDone()


@router.post("/{dataset_uid}/abort/", operation_id="abort-dataset", summary="Abort dataset processing")
def abort_dataset(
    dataset_uid: str,
    request: Request,
    session: SessionDep,
    _key: PublishDataset,
) -> ActionDone:
    get_runtime(request).abort(session, dataset_uid)
    return ActionDone()


@router.post("/{dataset_uid}/unpublish/", operation_id="unpublish-dataset", summary="Unpublish dataset")
def unpublish_dataset(
    dataset_uid: str,
    session: SessionDep,
    _key: PublishDataset,
) -> ActionDone:
    control.request_unpublish(session, dataset_uid)
    return ActionDone()


@router.get(
    "/{dataset_uid}/status/",
    operation_id="get-dataset-status",
    summary="Dataset status",
    response_model=StatusPublic,
)
def dataset_status(dataset_uid: str, session: SessionDep, _key: EditDataset) -> dict[str, Any]:
    return control.status_public(service.get_dataset(session, dataset_uid))
