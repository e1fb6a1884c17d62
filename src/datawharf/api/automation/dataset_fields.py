"""``/datasets/{uid}/fields/``: the field configuration stack (rename, type, annotate, description,
order, delete), in the order it is applied."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from datawharf.api.deps import get_session, require
from datawharf.api.pagination import Page, page_params, paginated
from datawharf.datasets import fieldconfig
from datawharf.store.models import ApiKey

router = APIRouter(prefix="/datasets/{dataset_uid}/fields", tags=["Dataset fields"])
_edit = require("edit_dataset")


class FieldConfigurationIn(BaseModel):
    """One of the reference's six variants; the properties besides ``type`` and ``label`` depend on it:
    rename (from_name, to_name, field_label), type (field, type_param), annotate (field, annotation,
    args), description (field, description), order (args), delete (field)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["rename", "type", "annotate", "description", "order", "delete"]
    label: str | None = Field(default=None, max_length=500)

    def properties(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


@router.get(
    "/", operation_id="list-dataset-field-configurations", summary="List dataset field configurations"
)
def list_fields(
    dataset_uid: str,
    request: Request,
    page: Page = Depends(page_params),
    session: Session = Depends(get_session),
    _key: ApiKey = Depends(_edit),
) -> dict:
    total, rows = fieldconfig.list_configurations(session, dataset_uid, limit=page.limit, offset=page.offset)
    return paginated(request, page, total, [fieldconfig.public(c) for c in rows])


@router.post(
    "/",
    status_code=201,
    operation_id="create-dataset-field-configurations",
    summary="Append a field configuration",
)
def create_field(
    dataset_uid: str,
    body: FieldConfigurationIn,
    session: Session = Depends(get_session),
    _key: ApiKey = Depends(_edit),
) -> dict:
    config = fieldconfig.create_configuration(session, dataset_uid, body.type, body.label, body.properties())
    return fieldconfig.public(config)


@router.get(
    "/{field_uid}/",
    operation_id="retrieve-dataset-field-configuration",
    summary="Retrieve a field configuration",
)
def retrieve_field(
    dataset_uid: str, field_uid: str, session: Session = Depends(get_session), _key: ApiKey = Depends(_edit)
) -> dict:
    return fieldconfig.public(fieldconfig.get_configuration(session, dataset_uid, field_uid))


@router.put("/{field_uid}/", operation_id="update-dataset-field", summary="Update a field configuration")
def update_field(
    dataset_uid: str,
    field_uid: str,
    body: FieldConfigurationIn,
    session: Session = Depends(get_session),
    _key: ApiKey = Depends(_edit),
) -> dict:
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
def delete_field(
    dataset_uid: str, field_uid: str, session: Session = Depends(get_session), _key: ApiKey = Depends(_edit)
) -> Response:
    fieldconfig.delete_configuration(session, dataset_uid, field_uid)
    return Response(status_code=204)
