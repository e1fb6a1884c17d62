"""The shapes a harvester is shown in: the reference's ``Harvester`` (with datawharf's S3 fields beside
it) and its ``errors`` answer. ``service.public`` / ``service.errors`` fill them; faces declare them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class HarvesterPublic(BaseModel):
    uid: str
    type: str = Field(description="Always 'amazon_s3': the one kind of harvester datawharf has.")
    name: str
    status: str = Field(description="idle, queued, processing or aborting.")
    version: int
    restrict_datasets_visibility: bool
    delete_missing_datasets: bool = Field(description="Always false: a gone object's dataset is unpublished.")
    forced_metas: dict[str, Any]
    remote_datasets_count: int = Field(description="Objects (or folders) found at the last pass.")
    harvested_datasets_count: int = Field(description="Datasets created or refreshed by the last pass.")
    published_datasets_count: int
    attached_datasets_count: int = Field(description="Datasets this harvester made that still exist.")
    has_error: bool
    resource_errors_count: int
    created_at: datetime
    updated_at: datetime
    updated_by: dict[str, str]
    last_started_at: datetime | None
    last_success_at: datetime | None
    url: str = Field(description="The prefix or glob (relative to the connection's URL, or absolute).")
    connection: dict[str, str] | None
    mode: str = Field(description="object: a dataset per object; folder: per first-level folder.")
    extractor_type: str | None
    params: dict[str, Any]
    dataset_id_template: str
    title_template: str
    cron_schedule: str | None = Field(description="Its schedule (also under /harvesters/{uid}/schedules/).")
    schedule_timezone: str = Field(description="The timezone its cron_schedule is read in.")
    next_run_at: datetime | None
    last_report: dict[str, Any] = Field(description="The last pass's counts (created, refreshed...).")


class HarvesterErrors(BaseModel):
    harvester: str | None = Field(description="The error that stopped the last pass, if one did.")
    resources: dict[str, str] = Field(description="The errors of the last pass, by source key.")


class HarvesterAction(BaseModel):
    """The reference's ``{"detail": "ok"}`` for a harvester-wide publish or unpublish, with the counts."""

    detail: str
    done: int = Field(description="Datasets published (queued) or unpublished.")
    already: int = Field(description="Datasets already published (publish) or not published (unpublish).")
    busy: int = Field(description="Datasets left alone: a run of theirs is queued or going.")
    gone: int = Field(description="publish: datasets whose object was gone at the last pass.")


class PreviewedDataset(BaseModel):
    id: str = Field(description="The dataset_id it has or would get (a taken one gets -2, -3...).")
    title: str
    description: str
    source_key: str
    url: str | None = Field(description="Its datasource URL (None for one a pass would unpublish).")
    action: str = Field(description="create, refresh, republish or unpublish.")
    dataset_uid: str | None


class HarvesterPreview(BaseModel):
    total_count: int = Field(description="Keys on the listing's first page (all of them when complete).")
    results: list[PreviewedDataset]
    complete: bool = Field(description="False: the listing has more than one page; only the first is shown.")


class HarvesterSchedule(BaseModel):
    uid: str
    cron_schedule: str
    timezone: str
    description: str | None
    next_run_at: datetime | None
    last_run_at: datetime | None = Field(description="When the harvester's last pass started.")
