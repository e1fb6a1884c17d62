"""The catalog as Project Open Data's ``data.json`` (the DCAT-US 1.1 schema that data.gov harvests):
one JSON document, a ``dataset`` array written one dataset a chunk.

The schema's required fields come from the metadata: ``title``, ``description``, ``keyword``,
``modified``, ``publisher`` (the ``default`` template), ``contactPoint`` (the ``dcat`` template's
contact name and email, else the publisher), ``identifier`` (the dataset's Explore URL),
``accessLevel`` (``public``, or ``restricted public`` for a restricted dataset); and a
``distribution`` per export format.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from typing import Any

from datawharf.datasets.catalog import PublishedDataset
from datawharf.explore.catalog import modified, public
from datawharf.exports import FORMATS
from datawharf.exports.catalog.context import CatalogContext

SCHEMA = "https://project-open-data.cio.gov/v1.1/schema"


def _list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if v not in (None, "")]
    return [str(value)] if value not in (None, "") else []


def pod_dataset(context: CatalogContext, dataset: PublishedDataset) -> dict[str, Any]:
    metas = public(dataset)["metas"]
    default, dcat = metas.get("default", {}), metas.get("dcat", {})
    publisher = ", ".join(_list(default.get("publisher"))) or "datawharf"
    contact: dict[str, Any] = {"@type": "vcard:Contact", "fn": str(dcat.get("contact_name") or publisher)}
    if dcat.get("contact_email"):
        contact["hasEmail"] = f"mailto:{dcat['contact_email']}"
    changed = modified(dataset)
    entry: dict[str, Any] = {
        "@type": "dcat:Dataset",
        "identifier": context.dataset_url(dataset),
        "title": str(default.get("title") or dataset.dataset_id),
        "description": str(default.get("description") or default.get("title") or dataset.dataset_id),
        "keyword": _list(default.get("keyword")) or [dataset.dataset_id],
        "modified": (changed or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat(),
        "publisher": {"@type": "org:Organization", "name": publisher},
        "contactPoint": contact,
        "accessLevel": "restricted public" if dataset.is_restricted else "public",
        "landingPage": context.dataset_url(dataset),
        "distribution": [
            {
                "@type": "dcat:Distribution",
                "title": f"{fmt} export",
                "downloadURL": url,
                "mediaType": FORMATS[fmt].media_type.split(";")[0],
                "format": fmt,
            }
            for fmt, url in context.export_urls(dataset)
        ],
    }
    licenses = _list(default.get("license"))
    if licenses and licenses[0].startswith(("http://", "https://")):
        entry["license"] = licenses[0]
    if themes := _list(default.get("theme")):
        entry["theme"] = themes
    if languages := _list(default.get("language")):
        entry["language"] = languages
    return entry


def write_data_json(context: CatalogContext, datasets: Sequence[PublishedDataset]) -> Iterator[bytes]:
    head = {
        "@context": f"{SCHEMA}/catalog.jsonld",
        "@id": f"{context.api_root}/catalog/exports/data.json",
        "@type": "dcat:Catalog",
        "conformsTo": SCHEMA,
        "describedBy": f"{SCHEMA}/catalog.json",
    }
    yield (json.dumps(head, ensure_ascii=False)[:-1] + ', "dataset": [').encode()
    for index, dataset in enumerate(datasets):
        text = json.dumps(pod_dataset(context, dataset), ensure_ascii=False)
        yield (("\n" if index == 0 else ",\n") + text).encode()
    yield b"\n]}\n" if datasets else b"]}\n"
