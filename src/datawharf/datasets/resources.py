"""Resources: the sources of a dataset (an extractor type, its params, and a datasource).

What is saved is what every later step uses: the parameters are checked where they are given, and the
type and parameters not given are guessed once, here, from the object, then stored and returned. The
preview of a saved resource and its publish read the stored ones, so what was previewed is what is
published (a publish guesses nothing).

A datasource is the reference ``AmazonS3Datasource`` (``datasets/datasource.py``). An inline connection is
saved through the connections service as a non-reusable one, so the resource only ever stores
``connection_uid``; header values are encrypted at rest and come back as ``null``.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from datawharf.datasets import preview, sources
from datawharf.datasets.service import RESTING, get_dataset, require_status
from datawharf.errors import InvalidInput, NotFound
from datawharf.extract import params as extractor_params
from datawharf.extract.registry import EXTRACTORS
from datawharf.settings import Settings
from datawharf.store.models import new_uid, utcnow
from datawharf.store.models.datasets import Resource


def _check_type(extractor_type: str | None) -> None:
    if extractor_type is not None and extractor_type not in EXTRACTORS:
        raise InvalidInput(
            f"Unknown extractor type {extractor_type!r}. Known: {', '.join(sorted(EXTRACTORS))} "
            "(GET /api/automation/v1.0/extractors/).",
            error_code="unknown_extractor",
            detail={"type": ["unknown extractor"]},
        )


def _configure(session: Session, settings: Settings, resource: Resource, params: Any) -> None:
    """Set the resource's type and params: the given ones checked, the missing ones guessed from the
    object (through ``session``, which sees an inline connection saved in this unit of work)."""
    given = extractor_params.check_params(resource.type or None, params)
    resource.params = given
    if resource.type and not extractor_params.missing(resource.type, given):
        return
    resource.type, resource.params = preview.guess_saved(session, settings, resource, given)
    # Without a type, a name any extractor takes was accepted: the guessed one must take it too.
    extractor_params.check_params(resource.type, given)


def get_resource(session: Session, dataset_uid: str, uid: str) -> Resource:
    resource = session.get(Resource, uid)
    if resource is None or resource.dataset_uid != dataset_uid:
        raise NotFound(
            f"No resource {uid!r} in dataset {dataset_uid!r}: list them with GET "
            f"/datasets/{dataset_uid}/resources/.",
            error_code="resource_not_found",
        )
    return resource


def list_resources(
    session: Session, dataset_uid: str, *, limit: int, offset: int
) -> tuple[int, list[Resource]]:
    get_dataset(session, dataset_uid)
    where = Resource.dataset_uid == dataset_uid
    total = session.scalar(select(func.count()).select_from(Resource).where(where)) or 0
    query = select(Resource).where(where).order_by(Resource.position, Resource.created_at)
    return total, list(session.scalars(query.limit(limit).offset(offset)))


def create_resource(
    session: Session,
    settings: Settings,
    dataset_uid: str,
    *,
    type: str | None,
    title: str,
    params: dict[str, Any] | None,
    datasource: dict[str, Any],
    permissions: Collection[str],
) -> Resource:
    """A new resource; a missing ``type`` or parameter is guessed from the object (so it must be
    readable then), and stored. ``permissions``: the caller's, to decide whether it may choose a saved
    connection (``can_reuse``)."""
    dataset = get_dataset(session, dataset_uid)
    require_status(dataset, RESTING, "add a resource")
    _check_type(type)
    prepared = sources.prepare_datasource(session, settings, datasource, permissions=permissions)
    last = session.scalar(select(func.max(Resource.position)).where(Resource.dataset_uid == dataset_uid))
    resource = Resource(
        uid=new_uid("re"),
        dataset_uid=dataset_uid,
        position=(last or 0) + 1,
        type=type or "",
        title=title,
        datasource=prepared.public,
        headers_secret=prepared.headers_secret,
        connection_uid=prepared.connection_uid,
    )
    _configure(session, settings, resource, params)
    session.add(resource)
    session.flush()
    return resource


def update_resource(
    session: Session,
    settings: Settings,
    dataset_uid: str,
    uid: str,
    *,
    type: str | None,
    title: str,
    params: dict[str, Any] | None,
    datasource: dict[str, Any],
    permissions: Collection[str],
) -> Resource:
    dataset = get_dataset(session, dataset_uid)
    require_status(dataset, RESTING, "change a resource")
    resource = get_resource(session, dataset_uid, uid)
    _check_type(type)
    prepared = sources.prepare_datasource(
        session, settings, datasource, permissions=permissions, previous=resource
    )
    resource.type = type or ""
    resource.title = title
    resource.datasource = prepared.public
    resource.headers_secret = prepared.headers_secret
    resource.connection_uid = prepared.connection_uid
    _configure(session, settings, resource, params)
    resource.updated_at = utcnow()
    session.flush()
    return resource


def delete_resource(session: Session, dataset_uid: str, uid: str) -> None:
    dataset = get_dataset(session, dataset_uid)
    require_status(dataset, RESTING, "delete a resource")
    session.delete(get_resource(session, dataset_uid, uid))
    session.flush()


def public(resource: Resource) -> dict[str, Any]:
    extractor = EXTRACTORS.get(resource.type)
    datasource = dict(resource.datasource)
    return {
        "uid": resource.uid,
        "type": resource.type,
        "title": resource.title,
        "display_name": datasource.get("url") or resource.title,
        "extraction_infos": {"label": extractor.label if extractor else resource.type, "type": resource.type},
        "origin": {"label": "Amazon S3", "type": datasource.get("type", "amazon_s3")},
        "updated_at": resource.updated_at,
        "params": resource.params,
        "datasource": datasource,
    }


def fingerprint(resources: list[Resource], configurations: list[tuple[str, dict[str, Any]]]) -> str:
    """What a publish depends on besides the objects themselves: a change here means "republish"."""
    import hashlib

    payload = {
        "resources": [[r.uid, r.type, r.params, r.datasource, r.connection_uid] for r in resources],
        "fields": configurations,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
