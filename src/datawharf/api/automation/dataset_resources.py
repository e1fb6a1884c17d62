"""``/datasets/{uid}/resources/``: the sources of a dataset, and the preview of a saved one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from datawharf.api.deps import get_session, get_settings, require
from datawharf.api.pagination import Page, page_params, paginated
from datawharf.datasets import preview, resources
from datawharf.settings import Settings
from datawharf.store.models import ApiKey
from datawharf.store.models.datasets import Resource

router = APIRouter(prefix="/datasets/{dataset_uid}/resources", tags=["Dataset resources"])
_edit = require("edit_dataset")


class ResourceIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # The reference requires ``type``; we guess it when absent (as the unsaved preview does), and guess
    # every parameter not given: both are stored and returned, and the publish uses exactly them.
    type: str | None = Field(default=None, min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=500)
    params: dict[str, Any] = Field(default_factory=dict)
    datasource: dict[str, Any]


@router.get("/", operation_id="list-dataset-resources", summary="List dataset resources")
def list_resources(
    dataset_uid: str,
    request: Request,
    page: Page = Depends(page_params),
    session: Session = Depends(get_session),
    _key: ApiKey = Depends(_edit),
) -> dict:
    total, rows = resources.list_resources(session, dataset_uid, limit=page.limit, offset=page.offset)
    return paginated(request, page, total, [resources.public(r) for r in rows])


@router.post("/", status_code=201, operation_id="create-dataset-resource", summary="Create dataset resource")
def create_resource(
    dataset_uid: str,
    body: ResourceIn,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    _key: ApiKey = Depends(_edit),
) -> dict:
    resource = resources.create_resource(
        session,
        settings,
        dataset_uid,
        type=body.type,
        title=body.title,
        params=body.params,
        datasource=body.datasource,
    )
    return resources.public(resource)


@router.get("/{resource_uid}/", operation_id="retrieve-dataset-resource", summary="Retrieve dataset resource")
def retrieve_resource(
    dataset_uid: str,
    resource_uid: str,
    session: Session = Depends(get_session),
    _key: ApiKey = Depends(_edit),
) -> dict:
    return resources.public(resources.get_resource(session, dataset_uid, resource_uid))


@router.put("/{resource_uid}/", operation_id="update-dataset-resource", summary="Update dataset resource")
def update_resource(
    dataset_uid: str,
    resource_uid: str,
    body: ResourceIn,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    _key: ApiKey = Depends(_edit),
) -> dict:
    resource = resources.update_resource(
        session,
        settings,
        dataset_uid,
        resource_uid,
        type=body.type,
        title=body.title,
        params=body.params,
        datasource=body.datasource,
    )
    return resources.public(resource)


@router.delete(
    "/{resource_uid}/",
    status_code=204,
    operation_id="delete-dataset-resource",
    summary="Delete dataset resource",
)
def delete_resource(
    dataset_uid: str,
    resource_uid: str,
    session: Session = Depends(get_session),
    _key: ApiKey = Depends(_edit),
) -> Response:
    resources.delete_resource(session, dataset_uid, resource_uid)
    return Response(status_code=204)


@router.get("/{resource_uid}/preview/", operation_id="resource-preview", summary="Preview resource records")
def preview_resource(
    dataset_uid: str,
    resource_uid: str,
    request: Request,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    _key: ApiKey = Depends(_edit),
) -> dict:
    """The first records (up to 20) of a saved resource, its fields as the publish will write them."""
    resource = resources.get_resource(session, dataset_uid, resource_uid)
    locator = request.app.state.datasets_runtime.locator
    return preview.preview_resource(session, settings, locator, resource)


@router.get(
    "/{resource_uid}/guess_extractors_params/",
    operation_id="resource-guess-extractor-params",
    summary="Guess the extractor params of a saved resource",
)
def guess_resource_params(
    dataset_uid: str,
    resource_uid: str,
    request: Request,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    _key: ApiKey = Depends(_edit),
) -> dict:
    resource = resources.get_resource(session, dataset_uid, resource_uid)
    unsaved = Resource(
        uid=resource.uid,
        dataset_uid=dataset_uid,
        type=resource.type,
        params={},
        datasource=resource.datasource,
        headers_secret=resource.headers_secret,
        connection_uid=resource.connection_uid,
    )
    name, params = preview.guess_for(settings, request.app.state.datasets_runtime.locator, unsaved)
    return {"extractor": name, "params": params}
