"""``/datasets/{uid}/resources/``: the sources of a dataset, and the preview of a saved one."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from datawharf.api.deps import get_session, get_settings, require
from datawharf.api.pagination import Page, Paginated, page_params, paginated
from datawharf.datasets import preview, resources
from datawharf.datasets.schemas import (
    GuessedParams,
    PreviewPublic,
    ResourceCreate,
    ResourcePublic,
    ResourceUpdate,
)
from datawharf.settings import Settings
from datawharf.store.models import ApiKey

router = APIRouter(prefix="/datasets/{dataset_uid}/resources", tags=["Dataset resources"])
_edit = require("edit_dataset")


@router.get(
    "/",
    operation_id="list-dataset-resources",
    summary="List dataset resources",
    response_model=Paginated[ResourcePublic],
)
def list_resources(
    dataset_uid: str,
    request: Request,
    page: Page = Depends(page_params),
    session: Session = Depends(get_session),
    _key: ApiKey = Depends(_edit),
) -> dict:
    total, rows = resources.list_resources(session, dataset_uid, limit=page.limit, offset=page.offset)
    return paginated(request, page, total, [resources.public(r) for r in rows])


@router.post(
    "/",
    status_code=201,
    operation_id="create-dataset-resource",
    summary="Create dataset resource",
    response_model=ResourcePublic,
)
def create_resource(
    dataset_uid: str,
    body: ResourceCreate,
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
        permissions=_key.permissions,
    )
    return resources.public(resource)


@router.get(
    "/{resource_uid}/",
    operation_id="retrieve-dataset-resource",
    summary="Retrieve dataset resource",
    response_model=ResourcePublic,
)
def retrieve_resource(
    dataset_uid: str,
    resource_uid: str,
    session: Session = Depends(get_session),
    _key: ApiKey = Depends(_edit),
) -> dict:
    return resources.public(resources.get_resource(session, dataset_uid, resource_uid))


@router.put(
    "/{resource_uid}/",
    operation_id="update-dataset-resource",
    summary="Update dataset resource",
    response_model=ResourcePublic,
)
def update_resource(
    dataset_uid: str,
    resource_uid: str,
    body: ResourceUpdate,
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
        permissions=_key.permissions,
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


@router.get(
    "/{resource_uid}/preview/",
    operation_id="resource-preview",
    summary="Preview resource records",
    response_model=PreviewPublic,
)
def preview_resource(
    dataset_uid: str,
    resource_uid: str,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    _key: ApiKey = Depends(_edit),
) -> dict:
    """The first records (up to 20) of a saved resource, its fields as the publish will write them."""
    resource = resources.get_resource(session, dataset_uid, resource_uid)
    return preview.preview_saved(session, settings, resource)


@router.get(
    "/{resource_uid}/guess_extractors_params/",
    operation_id="resource-guess-extractor-params",
    summary="Guess the extractor params of a saved resource",
    response_model=GuessedParams,
)
def guess_resource_params(
    dataset_uid: str,
    resource_uid: str,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    _key: ApiKey = Depends(_edit),
) -> dict:
    resource = resources.get_resource(session, dataset_uid, resource_uid)
    name, params = preview.guess_saved(session, settings, resource, {})
    return {"extractor": name, "params": params}
