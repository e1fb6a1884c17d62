"""The dataset page's metadata and visibility actions: save the metadata form (a draft), publish the
metadata (``publish_metadata``: Explore shows the draft), switch between public and restricted.

Each action redirects to the dataset's page with its confirmation (``web/notices.py``); a refusal
(a value of the wrong type, a dataset not yet published, a key without the permission) is shown on the
page, as the page's other actions do.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response

from datawharf.datasets import metadata_edits, service
from datawharf.errors import DatawharfError, InvalidInput
from datawharf.web.datasets import Current, dataset_page_with_error
from datawharf.web.metadata_form import form_entries
from datawharf.web.notices import saved
from datawharf.web.rendering import BASE, BackofficeRoute, csrf_checked, database_of

router = APIRouter(prefix=f"{BASE}/datasets", route_class=BackofficeRoute, include_in_schema=False)


Box = Annotated[str, Form()]


@router.post("/{uid}/metadata", dependencies=[Depends(csrf_checked)])
def save_metadata(
    request: Request,
    current: Current,
    uid: str,
    title: Box = "",
    description: Box = "",
    keywords: Box = "",
    license: Box = "",
    license_id: Box = "",
    publisher: Box = "",
    language: Box = "",
    themes: Box = "",
    attributions: Box = "",
) -> Response:
    form = {
        "title": title,
        "description": description,
        "keywords": keywords,
        "license": license,
        "license_id": license_id,
        "publisher": publisher,
        "language": language,
        "themes": themes,
        "attributions": attributions,
    }
    try:
        current.require("edit_dataset")
        with database_of(request).session() as db:
            metadata_edits.set_fields(db, uid, form_entries(form))
    except DatawharfError as error:
        return dataset_page_with_error(request, current, uid, error)
    return saved(f"{BASE}/datasets/{uid}", "metadata", "metadata")


@router.post("/{uid}/metadata/publish", dependencies=[Depends(csrf_checked)])
def publish_metadata(request: Request, current: Current, uid: str) -> Response:
    try:
        current.require("publish_dataset")
        with database_of(request).session() as db:
            metadata_edits.publish_metadata(db, uid)
    except DatawharfError as error:
        return dataset_page_with_error(request, current, uid, error)
    return saved(f"{BASE}/datasets/{uid}", "metadata-published", "metadata")


@router.post("/{uid}/visibility", dependencies=[Depends(csrf_checked)])
def set_visibility(
    request: Request,
    current: Current,
    uid: str,
    visibility: Annotated[str, Form()] = "",
) -> Response:
    try:
        if visibility not in ("public", "restricted"):
            raise InvalidInput(
                f"Choose the visibility: public or restricted (not {visibility[:40]!r}).",
                detail={"visibility": ["must be public or restricted"]},
            )
        current.require("edit_dataset")
        with database_of(request).session() as db:
            service.update_dataset(db, uid, metadata=None, is_restricted=visibility == "restricted")
    except DatawharfError as error:
        return dataset_page_with_error(request, current, uid, error)
    return saved(f"{BASE}/datasets/{uid}", visibility, "visibility")
