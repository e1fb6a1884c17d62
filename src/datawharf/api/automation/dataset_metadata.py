"""``/datasets/{uid}/metadata/``: a dataset's draft metadata whole, by template and by field, and
``/datasets/{uid}/publish_metadata/``, which makes the draft what the Explore API shows.

The answers are the reference's ``DatasetMetadata``, ``DatasetMetadataTemplate`` and
``DatasetMetadataValue``, as ``GET /datasets/{uid}/`` shows the metadata (unset fields absent, the
required ``title``/``modified``/``language`` always there). ``DELETE .../metadata/{template}/`` is
datawharf's (the reference deletes field by field): it unsets every field of the template.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Response

from datawharf.api.deps import EditDataset, PublishDataset, SessionDep, SettingsDep
from datawharf.datasets import metadata_edits
from datawharf.datasets.metadata import template_field, template_shown
from datawharf.datasets.schemas import (
    ActionDone,
    DatasetMetadata,
    DatasetPublic,
    MetadataValue,
    TemplateMetadata,
)
from datawharf.datasets.service import get_dataset
from datawharf.errors import InvalidInput, NotFound
from datawharf.store.models.datasets import Dataset

router = APIRouter(prefix="/datasets/{dataset_uid}", tags=["Dataset metadata"])

AnyJson = Body(..., description="The reference's DatasetMetadata / DatasetMetadataTemplate / Value.")


def _shown(dataset: Dataset, default_language: str) -> dict[str, Any]:
    return DatasetPublic.of(dataset, default_language).metadata


def _template(dataset: Dataset, default_language: str, template: str) -> dict[str, Any]:
    return template_shown(_shown(dataset, default_language), template)


@router.get(
    "/metadata/",
    operation_id="list-all-dataset-metadata",
    summary="List all dataset metadata",
    response_model=DatasetMetadata,
)
def list_all(dataset_uid: str, session: SessionDep, settings: SettingsDep, _key: EditDataset) -> Any:
    return _shown(get_dataset(session, dataset_uid), settings.default_language)


@router.put(
    "/metadata/",
    operation_id="update-all-dataset-metadata",
    summary="Update all dataset metadata",
    response_model=DatasetMetadata,
)
def update_all(
    dataset_uid: str, session: SessionDep, settings: SettingsDep, _key: EditDataset, body: Any = AnyJson
) -> Any:
    dataset = metadata_edits.replace_all(session, dataset_uid, body)
    return _shown(dataset, settings.default_language)


@router.get(
    "/metadata/{template_name}/",
    operation_id="list-template-dataset-metadata",
    summary="List a template's dataset metadata",
    response_model=TemplateMetadata,
)
def list_template(
    dataset_uid: str, template_name: str, session: SessionDep, settings: SettingsDep, _key: EditDataset
) -> Any:
    template_field(template_name)
    return _template(get_dataset(session, dataset_uid), settings.default_language, template_name)


@router.put(
    "/metadata/{template_name}/",
    operation_id="update-template-dataset-metadata",
    summary="Update a template's dataset metadata",
    response_model=TemplateMetadata,
)
def update_template(
    dataset_uid: str,
    template_name: str,
    session: SessionDep,
    settings: SettingsDep,
    _key: EditDataset,
    body: Any = AnyJson,
) -> Any:
    dataset = metadata_edits.replace_template(session, dataset_uid, template_name, body)
    return _template(dataset, settings.default_language, template_name)


@router.delete(
    "/metadata/{template_name}/",
    status_code=204,
    operation_id="delete-template-dataset-metadata",
    summary="Unset every field of a template (datawharf's)",
)
def delete_template(dataset_uid: str, template_name: str, session: SessionDep, _key: EditDataset) -> Response:
    metadata_edits.clear_template(session, dataset_uid, template_name)
    return Response(status_code=204)


@router.get(
    "/metadata/{template_name}/{template_field_name}/",
    operation_id="retrieve-template-field-dataset-metadata",
    summary="Retrieve a metadata",
    response_model=MetadataValue,
)
def retrieve_field(
    dataset_uid: str,
    template_name: str,
    template_field_name: str,
    session: SessionDep,
    settings: SettingsDep,
    _key: EditDataset,
) -> Any:
    template_field(template_name, template_field_name)
    shown = _template(get_dataset(session, dataset_uid), settings.default_language, template_name)
    entry = shown.get(template_field_name)
    if entry is None:
        raise NotFound(
            f"{template_name}.{template_field_name} is not set on this dataset. Set it with PUT on this "
            'path and a body {"value": ...}.',
            error_code="metadata_not_set",
            detail={"template": template_name, "field": template_field_name},
        )
    return entry


@router.put(
    "/metadata/{template_name}/{template_field_name}/",
    operation_id="update-template-field-dataset-metadata",
    summary="Update a metadata",
    response_model=MetadataValue,
)
def update_field(
    dataset_uid: str,
    template_name: str,
    template_field_name: str,
    session: SessionDep,
    settings: SettingsDep,
    _key: EditDataset,
    body: Any = AnyJson,
) -> Any:
    template_field(template_name, template_field_name)
    if isinstance(body, dict) and body.get("value") is None and "value" in body:
        raise InvalidInput(
            f"Invalid metadata.{template_name}.{template_field_name}.value: must not be null. To unset "
            "the field, DELETE this path.",
            error_code="invalid_metadata",
            detail={f"metadata.{template_name}.{template_field_name}.value": ["must not be null"]},
        )
    dataset = metadata_edits.set_field(session, dataset_uid, template_name, template_field_name, body)
    entry = _template(dataset, settings.default_language, template_name).get(template_field_name)
    if entry is None:  # a blank text or an empty list: the field is unset, as a form's empty box is
        return retrieve_field(dataset_uid, template_name, template_field_name, session, settings, _key)
    return entry


@router.delete(
    "/metadata/{template_name}/{template_field_name}/",
    status_code=204,
    operation_id="delete-template-field-dataset-metadata",
    summary="Delete a metadata",
)
def delete_field(
    dataset_uid: str, template_name: str, template_field_name: str, session: SessionDep, _key: EditDataset
) -> Response:
    metadata_edits.set_field(session, dataset_uid, template_name, template_field_name, None)
    return Response(status_code=204)


@router.post(
    "/publish_metadata/", operation_id="publish-dataset-metadata", summary="Publish dataset metadata"
)
def publish_metadata(dataset_uid: str, session: SessionDep, _key: PublishDataset) -> ActionDone:
    metadata_edits.publish_metadata(session, dataset_uid)
    return ActionDone()
