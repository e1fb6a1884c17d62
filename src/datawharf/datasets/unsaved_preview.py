"""Previews and guesses for a datasource that is not a saved resource yet: the API's "unsaved" routes and
``datawharf preview``.

The saved-resource path (``datasets/preview.py``) takes a ``Resource`` and a ``Locator``; here the
datasource dict becomes a one-shot locator over ``connections.sources.open_source``, so a saved
connection, an inline one (checked, never saved: a preview must not leave rows behind) and an anonymous
read all work, and the same code applies the dataset's field configuration. The S3 files opened are
kept, so the answer can say how many bytes were actually fetched from the store (``bytes_fetched``,
read-ahead included), next to the engine's ``bytes_read``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session

from datawharf.connections.sources import open_source
from datawharf.datasets import preview as saved_preview
from datawharf.datasets.service import get_dataset
from datawharf.datasets.sources import LocatedObject, Locator
from datawharf.errors import ExtractError, InvalidInput
from datawharf.extract.params import check_params
from datawharf.extract.registry import EXTRACTORS, describe_extractors
from datawharf.extract.sniff import guess_extractors, open_sample
from datawharf.s3.reader import S3File, open_object
from datawharf.settings import Settings
from datawharf.store.models.datasets import Resource

UNSAVED_UID = "re_unsaved"


class _Located:
    """The datasource's object, HEAD done, and every file opened on it (to add up what they fetched)."""

    def __init__(self, located: LocatedObject, opened: list[S3File]) -> None:
        self.located, self._opened = located, opened

    @property
    def bytes_fetched(self) -> int:
        return sum(f.bytes_fetched for f in self._opened)


def _check_datasource(datasource: Any) -> Mapping[str, Any]:
    if not isinstance(datasource, Mapping) or datasource.get("type") != "amazon_s3":
        kind = datasource.get("type") if isinstance(datasource, Mapping) else None
        message = f"Unsupported datasource type {kind!r}: datawharf reads 'amazon_s3' (url, connection)."
        raise InvalidInput(message, error_code="invalid_datasource", detail={"datasource.type": [message]})
    return datasource


@contextmanager
def locate(session: Session, settings: Settings, datasource: Any) -> Iterator[_Located]:
    """The object an ``AmazonS3Datasource`` dict points at, as a ``LocatedObject``; closed on exit."""
    source = open_source(session, settings, _check_datasource(datasource))
    try:
        info, head = source.probe()
        location = source.location
        opened: list[S3File] = []

        def open_preview() -> S3File:
            f = open_object(
                source.client, location.bucket, location.key, access="preview", info=info, head=head
            )
            opened.append(f)
            return f

        yield _Located(
            LocatedObject(
                name=posixpath.basename(location.key),
                etag=info.etag,
                size=info.size,
                last_modified=info.last_modified,
                content_type=info.content_type,
                open=open_preview,  # a preview never streams the whole object
                open_preview=open_preview,
            ),
            opened,
        )
    finally:
        source.close()


def _unsaved(dataset_uid: str | None, extractor: str | None, params: Mapping[str, Any] | None) -> Resource:
    return Resource(
        uid=UNSAVED_UID,
        dataset_uid=dataset_uid or "",
        type=extractor or "",
        params=dict(params or {}),
        datasource={},
    )


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


def preview_datasource(
    session: Session,
    settings: Settings,
    datasource: Any,
    *,
    dataset_uid: str | None = None,
    extractor: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The reference ``ResourcePreview`` (fields, at most 20 records; with a dataset, its field
    configuration applied), plus the extractor and params used (given ones win, the rest guessed),
    ``bytes_read`` (content the engine pulled) and ``bytes_fetched`` (bytes downloaded from S3)."""
    params = _check_request(session, dataset_uid, extractor, params)
    with locate(session, settings, datasource) as found:
        result = saved_preview.preview_resource(
            session, settings, lambda _resource: found.located, _unsaved(dataset_uid, extractor, params)
        )
        result["type"] = result["extractor"]  # what to post back as the resource's ``type``
        result["bytes_fetched"] = found.bytes_fetched
        return result


def guess_datasource_params(
    session: Session,
    settings: Settings,
    datasource: Any,
    *,
    dataset_uid: str | None = None,
    extractor: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``{"extractor", "params"}``: the reference ``guess_extractor_params`` answer."""
    params = _check_request(session, dataset_uid, extractor, params)
    with locate(session, settings, datasource) as found:
        name, guessed = saved_preview.guess_for(
            settings, lambda _resource: found.located, _unsaved(dataset_uid, extractor, params)
        )
    return {"extractor": name, "params": guessed}


def guess_datasource_extractors(
    session: Session, settings: Settings, datasource: Any, *, dataset_uid: str | None = None
) -> list[dict[str, Any]]:
    """The extractors that recognise the object's content, best first (see ``rank_extractors``)."""
    if dataset_uid is not None:
        get_dataset(session, dataset_uid)
    with locate(session, settings, datasource) as found:
        return rank_extractors(found.located)


def guess_resource_extractors(locator: Locator, resource: Resource) -> list[dict[str, Any]]:
    """The same ranking for a saved resource, found through the runtime's locator."""
    located = locator(resource)
    try:
        return rank_extractors(located)
    finally:
        located.close()


def rank_extractors(located: LocatedObject) -> list[dict[str, Any]]:
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
