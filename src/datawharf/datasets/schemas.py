"""The dataset families, as the API sees them: what comes in (``...Create`` / ``...Update``) and what goes
out (``...Public``) for datasets, their status, resources, field configurations, versions, schedules,
previews and extractors, beside the connections' family (``connections/schemas.py``).

The ``...Public`` models are the reference's shapes (``Dataset``, ``DatasetProcessingStatus``,
``Resource``, ``DatasetFieldConfiguration``, ``DatasetVersion``, ``DatasetSchedule``, ``ResourcePreview``,
``Extractor``) plus what datawharf adds, said so field by field. A property the reference declares as a
string, array or object is left out when unset (``unset_omitted``), never ``null``, unless the reference
declares it nullable. The routers declare them as ``response_model``, so ``/openapi.json`` shows them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from datawharf.datasets.metadata import public_metadata
from datawharf.datasets.metadata_templates import FIELD_TYPES, MetadataField, MetadataTemplateSpec
from datawharf.datasets.status import DatasetStatus
from datawharf.extract.types import FieldType
from datawharf.shapes import unset_omitted
from datawharf.store.models.datasets import Dataset

_IN = ConfigDict(extra="ignore")  # a client may send back what it read (uid, created_at...)


# --- datasets ----------------------------------------------------------------------------------------


class DatasetCreate(BaseModel):
    model_config = _IN

    dataset_id: str | None = Field(default=None, max_length=200)
    is_restricted: bool | None = None
    metadata: dict[str, Any] = Field(default_factory=dict, description="The reference DatasetMetadata.")


class DatasetUpdate(DatasetCreate):
    """PUT: unset properties keep their value (an empty ``metadata`` keeps the metadata)."""


class DatasetPublic(BaseModel):
    uid: str
    dataset_id: str
    created_at: datetime
    updated_at: datetime
    is_published: bool
    is_restricted: bool
    metadata: dict[str, Any] = Field(
        description="The reference DatasetMetadata: templates of {field: {value}}; unset fields absent."
    )

    @classmethod
    def of(cls, dataset: Dataset, default_language: str) -> DatasetPublic:
        """The dataset's answer; an unset title shows the dataset_id, an unset ``modified`` the last
        change, an unset language ``default_language`` (the reference requires all three)."""
        return cls(
            uid=dataset.uid,
            dataset_id=dataset.dataset_id,
            created_at=dataset.created_at,
            updated_at=dataset.updated_at,
            is_published=dataset.is_published,
            is_restricted=dataset.is_restricted,
            metadata=public_metadata(
                dataset.metadata_,
                title=dataset.dataset_id,
                modified=dataset.updated_at,
                language=default_language,
            ),
        )


class ActionDone(BaseModel):
    """The reference ``OK`` answer of publish, abort and unpublish."""

    detail: str = "ok"


class RecordError(BaseModel):
    record_id: str | None = unset_omitted()
    field_uid: str | None = unset_omitted()
    processor_uid: str | None = unset_omitted()
    message: str | None = unset_omitted()
    value: str | None = unset_omitted("Ours: the value that did not convert (cut at 80 characters).")


class Progress(BaseModel):
    """Ours: where a run stands."""

    bytes_done: int
    bytes_total: int | None
    records_done: int
    records_errors_count: int


class StatusPublic(BaseModel):
    """The reference ``DatasetProcessingStatus``, plus ``progress``, ``run_uid`` and ``version_uid``."""

    status: DatasetStatus
    previous: DatasetStatus | None
    next: DatasetStatus | None = None
    since: datetime
    is_published: bool
    message: str | None
    records_errors: list[RecordError]
    params: dict[str, Any] = Field(default_factory=dict)
    progress: Progress
    run_uid: str | None = Field(description="Ours: the current or last run.")
    version_uid: str | None = Field(description="Ours: the version the Explore API serves.")


# --- resources ---------------------------------------------------------------------------------------


class ResourceCreate(BaseModel):
    model_config = _IN

    # The reference requires ``type``; we guess it when absent (as the unsaved preview does), and guess
    # every parameter not given: both are stored and returned, and the publish uses exactly them.
    type: str | None = Field(default=None, min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=500)
    params: dict[str, Any] = Field(default_factory=dict)
    datasource: dict[str, Any] = Field(description="The reference AmazonS3Datasource.")


class ResourceUpdate(ResourceCreate):
    """PUT: the whole resource again; a header value left null keeps the stored one."""


class Infos(BaseModel):
    """The reference ``ExtractionInfos`` and ``OriginInfos``."""

    label: str
    type: str


class ResourcePublic(BaseModel):
    uid: str
    type: str
    title: str
    display_name: str
    extraction_infos: Infos | None
    origin: Infos
    updated_at: datetime
    params: dict[str, Any]
    datasource: dict[str, Any] = Field(description="The reference AmazonS3Datasource; header values null.")


# --- field configurations ----------------------------------------------------------------------------

FieldConfigurationType = Literal["rename", "type", "annotate", "description", "order", "delete"]


class FieldConfigurationCreate(BaseModel):
    """One of the reference's six variants; the properties besides ``type`` and ``label`` depend on it:
    rename (from_name, to_name, field_label), type (field, type_param), annotate (field, annotation,
    args), description (field, description), order (args), delete (field)."""

    model_config = ConfigDict(extra="allow")

    type: FieldConfigurationType
    label: str | None = Field(default=None, max_length=500)

    def properties(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class FieldConfigurationUpdate(FieldConfigurationCreate):
    """PUT: the whole configuration again."""


class FieldConfigurationPublic(BaseModel):
    """The reference ``DatasetFieldConfiguration``: each variant's properties, the others absent."""

    uid: str
    type: FieldConfigurationType
    label: str
    from_name: str | None = unset_omitted()
    to_name: str | None = unset_omitted()
    field_label: str | None = unset_omitted()
    field: str | None = unset_omitted()
    type_param: FieldType | None = unset_omitted()
    annotation: str | None = unset_omitted()
    args: list[str | int] | None = unset_omitted()
    description: str | None = unset_omitted()


# --- versions and schedules --------------------------------------------------------------------------


class VersionPublic(BaseModel):
    """The reference ``DatasetVersion`` (``created_by`` absent: datawharf has keys, not users), plus
    what the version holds."""

    uid: str
    sections: list[str]
    can_restore: bool
    created_at: datetime
    is_current: bool
    records_count: int
    size_bytes: int
    errors_count: int
    files: list[str]
    sources: list[dict[str, Any]]
    restored_from: str | None = Field(description="Ours: the version this one restored, if any.")


class ScheduleCreate(BaseModel):
    model_config = _IN

    cron_schedule: str = Field(min_length=1, max_length=200, examples=["0 * * * *"])


class ScheduleUpdate(ScheduleCreate):
    """PUT: a new cron expression."""


class SchedulePublic(BaseModel):
    uid: str
    cron_schedule: str
    description: str = Field(description="Ours: the expression in words.")
    next_run_at: datetime = Field(description="Ours.")
    last_run_at: datetime | None = Field(description="Ours.")


# --- previews, guesses, extractors -------------------------------------------------------------------


class Annotation(BaseModel):
    name: str
    args: list[str | int] = Field(default_factory=list)


class PreviewField(BaseModel):
    name: str
    label: str
    original_name: str | None = unset_omitted()
    type: FieldType
    description: str | None = unset_omitted()
    annotations: list[Annotation] = Field(default_factory=list)


class ListedObjectPublic(BaseModel):
    key: str
    size: int
    etag: str
    last_modified: str | None


class FieldsDifference(BaseModel):
    """How one sampled object's fields differ from the first object's."""

    key: str
    missing: list[str]
    extra: list[str]
    types: dict[str, list[str]] = Field(description="name -> [the first object's type, this one's]")


class ObjectsPreview(BaseModel):
    """Ours: what a prefix or glob datasource matched, from one listing page (``glob_preview.py``)."""

    pattern: str
    listing_prefix: str
    first_page: list[ListedObjectPublic] = Field(description="The first listing page's matches.")
    listed_keys: int = Field(description="Keys listed to find them (one page, or until one matched).")
    matched_so_far: int
    more: bool = Field(description="Whether the listing goes on past that page.")
    records_from: list[str] = Field(description="The objects the records come from.")
    sampled: list[str] = Field(
        description="The objects whose fields were merged: first, last, a few between."
    )
    truncated: bool = Field(description="Whether the byte budget stopped the sample early.")
    fields: list[PreviewField] = Field(description="The fields merged across the sample.")
    differences: list[FieldsDifference]


class PreviewPublic(BaseModel):
    """The reference ``ResourcePreview``, plus what the preview used and read."""

    fields: list[PreviewField]
    records: list[dict[str, Any]]
    extractor: str = Field(description="Ours: the extractor used (given or guessed).")
    type: str | None = unset_omitted("Ours (unsaved previews): the type to post back with the resource.")
    params: dict[str, Any] = Field(description="Ours: the parameters used (given or guessed).")
    bytes_read: int = Field(description="Ours: content bytes the extractor read.")
    bytes_fetched: int | None = unset_omitted("Ours (unsaved previews): bytes downloaded from S3.")
    objects: ObjectsPreview | None = unset_omitted("Ours: the objects of a prefix or glob datasource.")


class GuessedParams(BaseModel):
    extractor: str
    params: dict[str, Any]


ParameterValue = str | bool | int | float


class ExtractorParameterPublic(BaseModel):
    name: str
    type: str
    label: str
    description: str
    default: ParameterValue | None = unset_omitted("Absent when the parameter has no default.")
    choices: list[ParameterValue] | None = unset_omitted("Only for enum parameters.")
    is_mandatory: bool


class ExtractorPublic(BaseModel):
    type: str
    name: str = Field(description="Ours: the same as type.")
    label: str
    description: str = Field(description="Ours.")
    parameters: list[ExtractorParameterPublic]
    score: float | None = unset_omitted("Ours (guesses): how well the extractor recognises the file.")


# --- metadata ----------------------------------------------------------------------------------------


class MetadataValue(BaseModel):
    """The reference ``DatasetMetadataValue``; never a ``remote_value`` (no dataset has a remote one)."""

    value: Any
    override_remote_value: bool | None = unset_omitted()


class TemplateMetadata(RootModel[dict[str, MetadataValue]]):
    """The reference ``DatasetMetadataTemplate``: one template's fields."""


class DatasetMetadata(RootModel[dict[str, dict[str, MetadataValue]]]):
    """The reference ``DatasetMetadata``: every template's fields."""


# --- metadata templates ------------------------------------------------------------------------------

# The fields the Explore catalog filters on (refine, facets) and those the reference requires.
CATALOG_FILTERS = {("default", n) for n in ("keyword", "theme", "publisher", "license", "language")}
REQUIRED = {("default", n) for n in ("title", "modified", "language")}


class MetadataTemplateFieldPublic(BaseModel):
    """The reference ``MetadataTemplateField``."""

    name: str
    type: str
    label: str
    help_text: str | None
    is_hidden: bool = False
    self_suggest: bool = False
    is_filter: bool
    i18n: bool = False
    suggest_url: str | None = None
    choices: list[str] | None
    labels: dict[str, dict[str, str]] | None = None
    requirement_level: Literal["optional", "recommended", "mandatory"]

    @classmethod
    def of(cls, template: str, field: MetadataField) -> MetadataTemplateFieldPublic:
        """``is_filter`` for the catalog's filters; ``mandatory`` what the reference requires."""
        return cls(
            name=field.name,
            type=FIELD_TYPES[field.kind],
            label=field.label,
            help_text=field.help_text,
            is_filter=(template, field.name) in CATALOG_FILTERS,
            choices=list(field.choices) if field.choices else None,
            requirement_level="mandatory" if (template, field.name) in REQUIRED else "optional",
        )


class MetadataTemplatePublic(BaseModel):
    """The reference ``MetadataTemplate``: every template of datawharf is a system one, always active."""

    name: str
    title: str
    type: Literal["interop", "basic", "extra", "admin"]
    is_active: bool = True
    is_always_active: bool
    is_system: bool = True
    schema_: list[MetadataTemplateFieldPublic] = Field(alias="schema", serialization_alias="schema")

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    @classmethod
    def of(cls, spec: MetadataTemplateSpec) -> MetadataTemplatePublic:
        return cls(
            name=spec.name,
            title=spec.title,
            type=spec.type,
            is_always_active=spec.is_always_active,
            schema_=[MetadataTemplateFieldPublic.of(spec.name, f) for f in spec.fields],
        )
