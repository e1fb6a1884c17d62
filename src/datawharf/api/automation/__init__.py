"""The management API, ``/api/automation/v1.0/``: one router module per reference resource."""

from __future__ import annotations

from fastapi import APIRouter

from datawharf.api.automation import (
    apikeys,
    connections,
    dataset_fields,
    dataset_metadata,
    dataset_resources,
    dataset_versions,
    datasets,
    extractors,
    harvesters,
    metadata_templates,
    resource_guess,
)

PREFIX = "/api/automation/v1.0"


def build_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    for module in (
        apikeys,
        connections,
        datasets,
        extractors,
        resource_guess,
        dataset_resources,
        dataset_fields,
        dataset_versions,
        dataset_metadata,
        metadata_templates,
        harvesters,
    ):
        router.include_router(module.router)
    return router
