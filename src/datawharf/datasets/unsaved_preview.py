"""Previews and guesses for a datasource that is not a saved resource yet: the API's "unsaved" routes and
``datawharf preview``.

The datasource dict is typed and resolved by ``datasets/locate.py`` (a saved connection the caller may use,
an inline one, checked and never saved: a preview must not leave rows behind, or an anonymous read),
probed with one GET, and shown by ``datasets/preview.py`` as a saved resource's preview is. The S3 files
opened are counted, so the answer can say how many bytes were actually fetched from the store
(``bytes_fetched``, read-ahead included), next to the engine's ``bytes_read``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy.orm import Session

from datawharf.datasets import locate
from datawharf.datasets import preview as saved_preview
from datawharf.datasets.datasource import parse_datasource
from datawharf.datasets.glob_preview import preview_set
from datawharf.datasets.service import get_dataset
from datawharf.errors import ExtractError, InvalidInput
from datawharf.extract.params import check_params
from datawharf.extract.registry import EXTRACTORS, describe_extractors
from datawharf.extract.sniff import guess_extractors, open_sample
from datawharf.settings import Settings
from datawharf.store.models.datasets import Resource


def _check_request(
    session: Session, dataset_uid: str | None, extractor: str | None, params: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Refuse an unknown dataset, extractor or parameter before any request leaves for S3; the params
    typed."""
    if dataset_uid is not None:
        get_dataset(session, dataset_uid)
    if extractor and extractor not in EXTRACTORS:
        raise InvalidInput(
            f"Unknown extractor {extractor!r}: use one of {', '.join(EXTRACTORS)} (GET /extractors/).",
            error_code="unknown_extractor",
            detail={"type": [f"one of {', '.join(EXTRACTORS)}"]},
        )
    return check_params(extractor or None, params)


def _target(
    session: Session, settings: Settings, datasource: Any, permissions: Collection[str]
) -> locate.Target:
    return locate.resolve(session, settings, parse_datasource(datasource), permissions=permissions)


def preview_datasource(
    session: Session,
    settings: Settings,
    datasource: Any,
    *,
    permissions: Collection[str],
    dataset_uid: str | None = None,
    extractor: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The reference ``ResourcePreview`` (fields, at most 20 records; with a dataset, its field
    configuration applied), plus the extractor and params used (given ones win, the rest guessed),
    ``bytes_read`` (content the engine pulled) and ``bytes_fetched`` (bytes downloaded from S3)."""
    params = _check_request(session, dataset_uid, extractor, params)
    target = _target(session, settings, datasource, permissions)
    if target.pattern is not None:  # a prefix or glob: the first objects, a sample's merged schema
        result = preview_set(
            session,
            settings,
            target,
            dataset_uid=dataset_uid,
            extractor=extractor,
            params=params or {},
            preview_one=saved_preview.preview_resource,
        )
        result["type"] = result["extractor"]
        return result
    with locate.probe(settings, target) as found:
        result = saved_preview.preview_resource(
            session,
            settings,
            found.located,
            dataset_uid=dataset_uid,
            extractor=extractor,
            params=params or {},
        )
        result["type"] = result["extractor"]  # what to post back as the resource's ``type``
        result["bytes_fetched"] = found.bytes_fetched
        return result


def guess_datasource_params(
    session: Session,
    settings: Settings,
    datasource: Any,
    *,
    permissions: Collection[str],
    dataset_uid: str | None = None,
    extractor: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``{"extractor", "params"}``: the reference ``guess_extractor_params`` answer."""
    params = _check_request(session, dataset_uid, extractor, params)
    target = _target(session, settings, datasource, permissions)
    with locate.probe(settings, target) as found:
        name, guessed = saved_preview.guess_for(found.located, extractor, params)
    return {"extractor": name, "params": guessed}


def guess_datasource_extractors(
    session: Session,
    settings: Settings,
    datasource: Any,
    *,
    permissions: Collection[str],
    dataset_uid: str | None = None,
) -> list[dict[str, Any]]:
    """The extractors that recognise the object's content, best first (see ``rank_extractors``)."""
    if dataset_uid is not None:
        get_dataset(session, dataset_uid)
    target = _target(session, settings, datasource, permissions)
    with locate.probe(settings, target) as found:
        return rank_extractors(found.located)


def guess_resource_extractors(
    session: Session, settings: Settings, resource: Resource
) -> list[dict[str, Any]]:
    """The same ranking for a saved resource, through the connection it holds."""
    with locate.probe(settings, locate.target_of(session, settings, resource)) as found:
        return rank_extractors(found.located)


def rank_extractors(located: locate.LocatedObject) -> list[dict[str, Any]]:
    """The reference ``Extractor`` entries that recognise the object's content, best first, plus their
    ``score`` (0-1). Compression and archives are peeled first, so ``x.csv.gz`` ranks csvfile. An empty
    object is an error (nothing to recognise); an unrecognised one gives ``[]``."""
    stream = (located.open_preview or located.open)()
    try:
        sample = open_sample(stream, located.name, located.content_type).sample
    finally:
        stream.close()
    if not sample.head:
        raise ExtractError("The file is empty: there is nothing to read.", error_code="empty_file")
    described = {entry["type"]: entry for entry in describe_extractors()}
    return [{**described[name], "score": round(score, 3)} for name, score in guess_extractors(sample)]
