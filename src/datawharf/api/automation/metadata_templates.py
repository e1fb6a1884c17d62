"""``/metadata/templates/``: the metadata templates a dataset's metadata follows, with their fields.

datawharf's templates are system ones (``datasets/metadata_templates.py``), always active: they are
listed and read here, not created, changed or deleted. ``/metadata/templates/{type}/{name}/`` answers as
``/metadata/templates/{name}/`` for the older clients that name the type in the path.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request

from datawharf.api.deps import AnyApiKey
from datawharf.api.pagination import PageDep, Paginated, paginated
from datawharf.datasets.metadata import template_field
from datawharf.datasets.metadata_templates import TEMPLATES
from datawharf.datasets.schemas import MetadataTemplateFieldPublic, MetadataTemplatePublic
from datawharf.errors import NotFound

router = APIRouter(prefix="/metadata/templates", tags=["Metadata templates"])


@router.get(
    "/",
    operation_id="list-metadata-templates",
    summary="List metadata templates",
    response_model=Paginated[MetadataTemplatePublic],
)
def list_templates(
    request: Request,
    page: PageDep,
    _key: AnyApiKey,
    is_active: bool | None = Query(None, description="Every template is active: False lists none."),
    type: Literal["interop", "admin", "basic", "extra"] | None = Query(None, description="Of this type."),
) -> dict[str, Any]:
    kept = [
        spec for spec in TEMPLATES.values() if (type is None or spec.type == type) and is_active is not False
    ]
    shown = [MetadataTemplatePublic.of(s) for s in kept[page.offset : page.offset + page.limit]]
    return paginated(request, page, len(kept), shown)


@router.get(
    "/{template_name}/",
    operation_id="retrieve-metadata-templates",
    summary="Retrieve a metadata template",
    response_model=MetadataTemplatePublic,
)
def retrieve_template(template_name: str, _key: AnyApiKey) -> MetadataTemplatePublic:
    template_field(template_name)
    return MetadataTemplatePublic.of(TEMPLATES[template_name])


@router.get(
    "/{template_name}/fields/",
    operation_id="get-metadata-fields-list",
    summary="List template's fields",
    response_model=Paginated[MetadataTemplateFieldPublic],
)
def list_fields(request: Request, template_name: str, page: PageDep, _key: AnyApiKey) -> dict[str, Any]:
    template_field(template_name)
    fields = TEMPLATES[template_name].fields
    shown = [
        MetadataTemplateFieldPublic.of(template_name, f)
        for f in fields[page.offset : page.offset + page.limit]
    ]
    return paginated(request, page, len(fields), shown)


@router.get(
    "/{template_name}/fields/{template_field_name}/",
    operation_id="get-metadata-fields-retrieve",
    summary="Retrieve metadata template field",
    response_model=MetadataTemplateFieldPublic,
)
def retrieve_field(
    template_name: str, template_field_name: str, _key: AnyApiKey
) -> MetadataTemplateFieldPublic:
    field = template_field(template_name, template_field_name)
    assert field is not None
    return MetadataTemplateFieldPublic.of(template_name, field)


@router.get(
    "/{template_type}/{template_name}/",
    operation_id="retrieve-typed-metadata-template",
    summary="Retrieve a metadata template by its type and name",
    response_model=MetadataTemplatePublic,
)
def retrieve_typed_template(
    template_type: str, template_name: str, _key: AnyApiKey
) -> MetadataTemplatePublic:
    template_field(template_name)
    spec = TEMPLATES[template_name]
    if spec.type != template_type:
        raise NotFound(
            f"The metadata template {template_name!r} is of type {spec.type!r}, not {template_type!r}: "
            f"GET /api/automation/v1.0/metadata/templates/{spec.type}/{template_name}/.",
            error_code="unknown_metadata_template",
            detail={"template": template_name, "type": spec.type},
        )
    return MetadataTemplatePublic.of(spec)
