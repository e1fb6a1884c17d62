"""The preview of a prefix or glob datasource, in bounded bytes whatever the number of objects.

    {...the ResourcePreview of the first objects..., "objects": {
        "pattern", "listing_prefix", "first_page": [{"key", "size", "etag", "last_modified"}],
        "listed_keys", "matched_so_far", "more", "records_from": [keys], "sampled": [keys],
        "fields": [the fields merged across the sample], "differences": [{"key", "missing", "extra",
        "types"}]}}

One listing page (``locate.probe_set``), never the whole listing: ``matched_so_far`` counts the page's
matches and ``more`` says whether the listing goes on. The 20 records come from the first objects, read
in key order until there are 20 (objects whose fields differ from the first's are not mixed in). The
schema is merged across a sample of the page (the first object, the last, ``SAMPLE_BETWEEN`` evenly
between), each read for its first records only, as the publish would type them, with each sampled
object's differences from the first (missing and extra fields, other types). Every object read counts
against ``DATAWHARF_PREVIEW_MAX_BYTES``: a sample that would pass it stops early (``truncated``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from datawharf.datasets import locate
from datawharf.extract.limits import PREVIEW_RECORDS
from datawharf.extract.types import common_type
from datawharf.s3.listing import ListedObject
from datawharf.settings import Settings

SAMPLE_BETWEEN = 3

# ``datasets/preview.py``'s ``preview_resource``: one object's preview, the field configuration applied
# (passed in: that module dispatches a saved resource's preview here).
PreviewOne = Callable[..., dict[str, Any]]


def sample_of(objects: list[ListedObject]) -> list[ListedObject]:
    """The first object, the last, and ``SAMPLE_BETWEEN`` spread evenly between, in key order."""
    if len(objects) <= SAMPLE_BETWEEN + 2:
        return list(objects)
    step = (len(objects) - 1) / (SAMPLE_BETWEEN + 1)
    picked = sorted({0, len(objects) - 1, *(round(step * i) for i in range(1, SAMPLE_BETWEEN + 1))})
    return [objects[i] for i in picked]


def _difference(first: dict[str, str], key: str, fields: dict[str, str]) -> dict[str, Any] | None:
    missing = [name for name in first if name not in fields]
    extra = [name for name in fields if name not in first]
    types = {
        name: [first[name], kind] for name, kind in fields.items() if name in first and first[name] != kind
    }
    if not (missing or extra or types):
        return None
    return {"key": key, "missing": missing, "extra": extra, "types": types}


def preview_set(
    session: Session,
    settings: Settings,
    target: locate.Target,
    *,
    dataset_uid: str | None,
    extractor: str | None,
    params: dict[str, Any],
    preview_one: PreviewOne,
) -> dict[str, Any]:
    """The preview of ``target``'s objects (see the module docstring); ``bytes_fetched`` included."""
    assert target.pattern is not None
    with locate.probe_set(settings, target) as found:
        page = found.first_page
        previews: dict[str, dict[str, Any]] = {}

        def read(listed: ListedObject, kind: str | None, given: dict[str, Any]) -> dict[str, Any]:
            if listed.key not in previews:
                previews[listed.key] = preview_one(
                    session,
                    settings,
                    found.located(listed),
                    dataset_uid=dataset_uid,
                    extractor=kind,
                    params=given,
                )
            return previews[listed.key]

        def room() -> bool:
            return found.bytes_fetched < settings.preview_max_bytes

        body = dict(read(page[0], extractor, params))
        kind, resolved = body["extractor"], body["params"]  # the first object's guesses serve them all
        first_types = {f["name"]: f["type"] for f in body["fields"]}
        records, records_from = list(body["records"]), [page[0].key]
        for listed in page[1:]:
            if len(records) >= PREVIEW_RECORDS or not room():
                break
            more = read(listed, kind, resolved)
            if {f["name"] for f in more["fields"]} == set(first_types):
                records += more["records"][: PREVIEW_RECORDS - len(records)]
                records_from.append(listed.key)
        merged = {f["name"]: dict(f) for f in body["fields"]}
        sampled: list[str] = []
        differences: list[dict[str, Any]] = []
        truncated = False
        for listed in sample_of(page):
            if listed.key not in previews and not room():
                truncated = True
                break
            sample = read(listed, kind, resolved)
            sampled.append(listed.key)
            types = {f["name"]: f["type"] for f in sample["fields"]}
            difference = _difference(first_types, listed.key, types)
            if difference is not None:
                differences.append(difference)
            for spec in sample["fields"]:
                known = merged.setdefault(spec["name"], dict(spec))
                known["type"] = common_type(known["type"], spec["type"])
        body["records"] = records
        body["bytes_read"] = sum(p["bytes_read"] for p in previews.values())
        body["bytes_fetched"] = found.bytes_fetched
        body["objects"] = {
            "pattern": target.pattern.text,
            "listing_prefix": target.pattern.listing_prefix,
            "first_page": [
                {
                    "key": o.key,
                    "size": o.size,
                    "etag": o.etag,
                    "last_modified": o.last_modified.isoformat() if o.last_modified else None,
                }
                for o in page
            ],
            "listed_keys": found.listed,
            "matched_so_far": len(page),
            "more": found.more,
            "records_from": records_from,
            "sampled": sampled,
            "truncated": truncated,
            "fields": list(merged.values()),
            "differences": differences,
        }
        return body
