"""``/datasets/{uid}/fields/``: the field configuration stack (rename, type, annotate, description,
order, delete), in the order it is applied."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from datawharf.api.deps import EditDataset, SessionDep
from datawharf.api.pagination import PageDep, Paginated, paginated
from datawharf.datasets import fieldconfig
from datawharf.datasets.schemas import (
    FieldConfigurationCreate,
    FieldConfigurationPublic,
    FieldConfigurationUpdate,
)

router = APIRouter(prefix="/datasets/{dataset_uid}/fields", tags=["Dataset fields"])


@router.get(
    "/",
    operation_id="list-dataset-field-configurations",
    summary="List dataset field configurations",
    response_model=Paginated[FieldConfigurationPublic],
)
def list_fields(
    dataset_uid: str,
    request: Request,
    page: PageDep,
    session: SessionDep,
    _key: EditDataset,
) -> dict[str, Any]:
    total, rows = fieldconfig.list_configurations(session, dataset_uid, limit=page.limit, offset=page.offset)
    return paginated(request, page, total, [fieldconfig.public(c) for c in rows])


@router.post(
    "/",
    status_code=201,
    operation_id="create-dataset-field-configurations",
    summary="Append a field configuration",
    response_model=FieldConfigurationPublic,
)
def create_field(
    dataset_uid: str,
    body: FieldConfigurationCreate,
    session: SessionDep,
    _key: EditDataset,
) -> dict[str, Any]:
    config = fieldconfig.create_configuration(session, dataset_uid, body.type, body.label, body.properties())
    return fieldconfig.public(config)


@router.get(
    "/{field_uid}/",
    operation_id="retrieve-dataset-field-configuration",
    summary="Retrieve a field configuration",
    response_model=FieldConfigurationPublic,
)
def retrieve_field(
    dataset_uid: str, field_uid: str, session: SessionDep, _key: EditDataset
) -> dict[str, Any]:
    return fieldconfig.public(fieldconfig.get_configuration(session, dataset_uid, field_uid))


@router.put(
    "/{field_uid}/",
    operation_id="update-dataset-field",
    summary="Update a field configuration",
    response_model=FieldConfigurationPublic,
)
def update_field(
    dataset_uid: str,
    field_uid: str,
    body: FieldConfigurationUpdate,
    session: SessionDep,
    _key: EditDataset,
) -> dict[str, Any]:
    config = fieldconfig.update_configuration(
        session, dataset_uid, field_uid, body.type, body.label, body.properties()
    )
    return fieldconfig.public(config)


@router.delete(
    "/{field_uid}/",
    status_code=204,
    operation_id="destroy-dataset-field-configurations",
    summary="Delete a field configuration",
)
def delete_field(dataset_uid: str, field_uid: str, session: SessionDep, _key: EditDataset) -> Response:
    fieldconfig.delete_configuration(session, dataset_uid, field_uid)
    return Response(status_code=204)
