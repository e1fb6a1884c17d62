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
    status: str = Field(description="idle, queued or processing.")
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
    cron_schedule: str | None
    next_run_at: datetime | None
    last_report: dict[str, Any] = Field(description="The last pass's counts (created, refreshed...).")


class HarvesterErrors(BaseModel):
    harvester: str | None = Field(description="The error that stopped the last pass, if one did.")
    resources: dict[str, str] = Field(description="The errors of the last pass, by source key.")
