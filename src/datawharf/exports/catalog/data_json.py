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
from datawharf.explore.catalog import instant, modified, public
from datawharf.exports import FORMATS
from datawharf.exports.catalog.context import CatalogContext, texts

SCHEMA = "https://project-open-data.cio.gov/v1.1/schema"


def _interop(dcat: dict[str, Any], dcat_ap: dict[str, Any]) -> dict[str, Any]:
    """The POD fields the ``dcat`` and ``dcat_ap`` templates fill: ``issued``, ``accrualPeriodicity``
    (an ISO 8601 repeating duration, ``R/P1D``, as POD wants it), ``spatial``, ``temporal``
    (``start/end``), ``conformsTo``, ``landingPage``."""
    found: dict[str, Any] = {}
    if (issued := instant(dcat.get("issued"))) is not None:
        found["issued"] = issued.astimezone(dt.UTC).isoformat()
    periodicity = dcat.get("accrualperiodicity")
    if isinstance(periodicity, str) and (periodicity.startswith("R/") or periodicity == "irregular"):
        found["accrualPeriodicity"] = periodicity
    if spatial := texts(dcat.get("spatial")) or texts(dcat_ap.get("spatial")):
        found["spatial"] = spatial[0]
    start, end = instant(dcat.get("temporal_coverage_start")), instant(dcat.get("temporal_coverage_end"))
    if start is not None and end is not None:
        found["temporal"] = f"{start.astimezone(dt.UTC).isoformat()}/{end.astimezone(dt.UTC).isoformat()}"
    if standards := [s for s in texts(dcat.get("conforms_to")) if s.startswith(("http://", "https://"))]:
        found["conformsTo"] = standards[0]
    if landing := texts(dcat_ap.get("landing_page")):
        found["landingPage"] = landing[0]
    return found


def pod_dataset(context: CatalogContext, dataset: PublishedDataset) -> dict[str, Any]:
    metas = public(dataset)["metas"]
    default, dcat = metas.get("default", {}), metas.get("dcat", {})
    publisher = ", ".join(texts(default.get("publisher"))) or "datawharf"
    contact: dict[str, Any] = {"@type": "vcard:Contact", "fn": str(dcat.get("contact_name") or publisher)}
    if dcat.get("contact_email"):
        contact["hasEmail"] = f"mailto:{dcat['contact_email']}"
    changed = modified(dataset)
    entry: dict[str, Any] = {
        "@type": "dcat:Dataset",
        "identifier": context.dataset_url(dataset),
        "title": str(default.get("title") or dataset.dataset_id),
        "description": str(default.get("description") or default.get("title") or dataset.dataset_id),
        "keyword": texts(default.get("keyword")) or [dataset.dataset_id],
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
    entry.update(_interop(dcat, metas.get("dcat_ap", {})))
    licenses = texts(default.get("license"))
    if licenses and licenses[0].startswith(("http://", "https://")):
        entry["license"] = licenses[0]
    if themes := texts(default.get("theme")):
        entry["theme"] = themes
    if languages := texts(default.get("language")):
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
