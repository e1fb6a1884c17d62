"""The unsaved-resource routes of ``/datasets/{uid}/resources/``: guess the extractors, guess their
parameters, preview 20 records, for a datasource posted in the body (nothing is saved); and the
reference's ``GET .../{resource_uid}/guess_extractors/`` for a saved resource.

The unsaved routes are POSTs on fixed last segments (``guess_extractors``, ``guess_extractor_params``,
``preview``): the saved-resource router's ``/{resource_uid}/`` routes answer GET/PUT/DELETE, so the two
never shadow each other. Every rule lives in ``datasets/unsaved_preview.py``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from datawharf.api.deps import get_session, get_settings, require
from datawharf.datasets import resources, unsaved_preview
from datawharf.datasets.schemas import ExtractorPublic, GuessedParams, PreviewPublic
from datawharf.settings import Settings
from datawharf.store.models import ApiKey

router = APIRouter(prefix="/datasets/{dataset_uid}/resources", tags=["Dataset resources"])
_edit = require("edit_dataset")


class GuessExtractorsIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    datasource: dict[str, Any]


class GuessParamsIn(GuessExtractorsIn):
    type: str = Field(min_length=1, max_length=64)
    params: dict[str, Any] = Field(default_factory=dict)  # beyond the reference: given ones are kept


class PreviewIn(GuessExtractorsIn):
    # The reference requires ``type``; we guess it when absent (as the wizard's first preview does).
    type: str | None = Field(default=None, max_length=64)
    params: dict[str, Any] = Field(default_factory=dict)


@router.post(
    "/guess_extractors/",
    operation_id="guess-unsaved-resource-extractors",
    summary="Guess unsaved resource extractors",
    response_model=list[ExtractorPublic],
)
def guess_extractors(
    dataset_uid: str,
    body: GuessExtractorsIn,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    _key: ApiKey = Depends(_edit),
) -> list[dict[str, Any]]:
    """The extractors that recognise the file, best first (with a ``score``)."""
    return unsaved_preview.guess_datasource_extractors(
        session, settings, body.datasource, permissions=_key.permissions, dataset_uid=dataset_uid
    )


@router.post(
    "/guess_extractor_params/",
    operation_id="guess-unsaved-resource-extractor-params",
    summary="Guess unsaved resource extractor parameters",
    response_model=GuessedParams,
)
def guess_extractor_params(
    dataset_uid: str,
    body: GuessParamsIn,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    _key: ApiKey = Depends(_edit),
) -> dict[str, Any]:
    return unsaved_preview.guess_datasource_params(
        session,
        settings,
        body.datasource,
        permissions=_key.permissions,
        dataset_uid=dataset_uid,
        extractor=body.type,
        params=body.params,
    )


@router.post(
    "/preview/",
    operation_id="resource-unsaved-preview",
    summary="Preview unsaved resource records",
    response_model=PreviewPublic,
)
def preview(
    dataset_uid: str,
    body: PreviewIn,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    _key: ApiKey = Depends(_edit),
) -> dict[str, Any]:
    """Fields and the first 20 records; beyond the reference: ``type``/``extractor`` and ``params`` as
    used (guessed where not given), ``bytes_read`` and ``bytes_fetched``."""
    return unsaved_preview.preview_datasource(
        session,
        settings,
        body.datasource,
        permissions=_key.permissions,
        dataset_uid=dataset_uid,
        extractor=body.type or None,
        params=body.params,
    )


@router.get(
    "/{resource_uid}/guess_extractors/",
    operation_id="resource-guess-extractors",
    summary="Guess resource extractors",
    response_model=list[ExtractorPublic],
)
def guess_resource_extractors(
    dataset_uid: str,
    resource_uid: str,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    _key: ApiKey = Depends(_edit),
) -> list[dict[str, Any]]:
    """The extractors that recognise a saved resource's file, best first (with a ``score``)."""
    resource = resources.get_resource(session, dataset_uid, resource_uid)
    return unsaved_preview.guess_resource_extractors(session, settings, resource)
