"""``/datasets/``: datasets, and the publish / abort / unpublish / status actions on them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from datawharf.api.deps import get_session, get_settings, require
from datawharf.api.pagination import Page, page_params, paginated
from datawharf.datasets import control, service
from datawharf.datasets.control import aware
from datawharf.datasets.runtime import DatasetsRuntime
from datawharf.settings import Settings
from datawharf.store.models import ApiKey
from datawharf.store.models.datasets import Dataset

router = APIRouter(prefix="/datasets", tags=["Datasets"])


class DatasetIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    dataset_id: str | None = Field(default=None, max_length=200)
    is_restricted: bool | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class DatasetPublic(BaseModel):
    uid: str
    dataset_id: str
    created_at: datetime
    updated_at: datetime
    is_published: bool
    is_restricted: bool
    metadata: dict[str, Any]

    @classmethod
    def of(cls, dataset: Dataset) -> DatasetPublic:
        return cls(
            uid=dataset.uid,
            dataset_id=dataset.dataset_id,
            created_at=aware(dataset.created_at),  # type: ignore[arg-type]
            updated_at=aware(dataset.updated_at),  # type: ignore[arg-type]
            is_published=dataset.is_published,
            is_restricted=dataset.is_restricted,
            metadata=dataset.metadata_,
        )


class Ok(BaseModel):
    detail: str = "ok"


def get_runtime(request: Request) -> DatasetsRuntime:
    return request.app.state.datasets_runtime


@router.get("/", operation_id="list-datasets", summary="List datasets")
def list_datasets(
    request: Request,
    dataset_id: str | None = Query(None, description="Find a dataset from its dataset_id"),
    page: Page = Depends(page_params),
    session: Session = Depends(get_session),
    _key: ApiKey = Depends(require("edit_dataset")),
) -> dict:
    total, rows = service.list_datasets(session, limit=page.limit, offset=page.offset, dataset_id=dataset_id)
    return paginated(request, page, total, [DatasetPublic.of(d).model_dump(mode="json") for d in rows])


@router.post("/", status_code=201, operation_id="create-dataset", summary="Create dataset")
def create_dataset(
    body: DatasetIn,
    strict: bool = Query(False, description="Refuse a missing or taken dataset_id instead of making one."),
    session: Session = Depends(get_session),
    _key: ApiKey = Depends(require("create_dataset")),
) -> DatasetPublic:
    dataset = service.create_dataset(
        session,
        metadata=body.metadata,
        dataset_id=body.dataset_id,
        is_restricted=bool(body.is_restricted),
        strict=strict,
    )
    return DatasetPublic.of(dataset)


@router.get("/{dataset_uid}/", operation_id="retrieve-dataset", summary="Retrieve dataset")
def retrieve_dataset(
    dataset_uid: str, session: Session = Depends(get_session), _key: ApiKey = Depends(require("edit_dataset"))
) -> DatasetPublic:
    return DatasetPublic.of(service.get_dataset(session, dataset_uid))


@router.put("/{dataset_uid}/", operation_id="update-dataset", summary="Update dataset")
def update_dataset(
    dataset_uid: str,
    body: DatasetIn,
    session: Session = Depends(get_session),
    _key: ApiKey = Depends(require("edit_dataset")),
) -> DatasetPublic:
    dataset = service.update_dataset(
        session,
        dataset_uid,
        metadata=body.metadata if body.metadata else None,
        dataset_id=body.dataset_id,
        is_restricted=body.is_restricted,
    )
    return DatasetPublic.of(dataset)


@router.delete("/{dataset_uid}/", status_code=204, operation_id="delete-dataset", summary="Delete dataset")
def delete_dataset(
    dataset_uid: str,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    _key: ApiKey = Depends(require("manage_dataset")),
) -> Response:
    service.delete_dataset(session, settings, dataset_uid)
    return Response(status_code=204)


@router.post("/{dataset_uid}/publish/", operation_id="publish-dataset", summary="Publish dataset")
def publish_dataset(
    dataset_uid: str,
    request: Request,
    only_if_changed: bool = Query(
        False, description="Do nothing (and say so) when the objects' ETag and size did not change."
    ),
    session: Session = Depends(get_session),
    _key: ApiKey = Depends(require("publish_dataset")),
) -> Ok:
    get_runtime(request).publish(session, dataset_uid, only_if_changed=only_if_changed)
    return Ok()


@router.post("/{dataset_uid}/abort/", operation_id="abort-dataset", summary="Abort dataset processing")
def abort_dataset(
    dataset_uid: str,
    request: Request,
    session: Session = Depends(get_session),
    _key: ApiKey = Depends(require("publish_dataset")),
) -> Ok:
    get_runtime(request).abort(session, dataset_uid)
    return Ok()


@router.post("/{dataset_uid}/unpublish/", operation_id="unpublish-dataset", summary="Unpublish dataset")
def unpublish_dataset(
    dataset_uid: str,
    session: Session = Depends(get_session),
    _key: ApiKey = Depends(require("publish_dataset")),
) -> Ok:
    control.request_unpublish(session, dataset_uid)
    return Ok()


@router.get("/{dataset_uid}/status/", operation_id="get-dataset-status", summary="Dataset status")
def dataset_status(
    dataset_uid: str, session: Session = Depends(get_session), _key: ApiKey = Depends(require("edit_dataset"))
) -> dict:
    return control.status_public(service.get_dataset(session, dataset_uid))
