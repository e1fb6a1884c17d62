"""The dataset page's panels for looking at the data before reading it: the last publish's conversion
errors, the map of its geo fields and the chart of its text and date fields.

The page renders what the server knows (the errors, which fields can be mapped or charted, where the
browser reads records from); the map and the chart themselves are drawn in the browser from the Explore
API (``static/dataset-map.js``, ``static/dataset-chart.js``), like a portal's widgets would be.
"""

from __future__ import annotations

from typing import Any

from datawharf.exports import FORMATS
from datawharf.exports.context import GEO_TYPES
from datawharf.settings import Settings
from datawharf.store.models.datasets import Dataset
from datawharf.web.rendering import BASE

ERRORS_SHOWN = 50  # the publish keeps 100 (datasets/publish.py): enough to act on, short enough to read
MAP_RECORDS = 2000  # records drawn on the map: one GeoJSON export of the geo field, bounded
CHART_TYPES = ("text", "date", "datetime")


def conversion_errors(
    dataset: Dataset, sources: list[dict[str, Any]], fields: list[dict[str, Any]]
) -> dict[str, Any]:
    """The kept per-record errors as rows a person can act on: which source and which record (the
    publish names a record ``<resource uid>:<data row>``), which field, which value; with the total,
    since only the first ones are kept."""
    titles = {source["uid"]: source["title"] for source in sources}
    by_name = {field["name"]: field for field in fields}
    rows = []
    for error in (dataset.records_errors or [])[:ERRORS_SHOWN]:
        resource_uid, _colon, row = (error.get("record_id") or "").rpartition(":")
        field = error.get("field_uid") or ""
        rows.append(
            {
                "source": titles.get(resource_uid, resource_uid),
                "record": int(row) if row.isdigit() else None,
                "field": field,
                "field_label": by_name.get(field, {}).get("label", field),
                "field_type": by_name.get(field, {}).get("type"),
                "value": error.get("value"),
                "message": error.get("message") or "",
            }
        )
    return {"total": dataset.errors_count or 0, "rows": rows}


def explore_urls(dataset: dict[str, Any]) -> dict[str, str]:
    """Where the browser reads: the public Explore API, or, for a restricted dataset, the backoffice's
    routes that call the Explore services with the signed-in key's rights (the browser holds no key)."""
    if dataset["is_restricted"]:
        base = f"{BASE}/datasets/{dataset['uid']}"
    else:
        base = f"/api/explore/v2.1/catalog/datasets/{dataset['dataset_id']}"
    return {"records": f"{base}/records", "exports": f"{base}/exports"}


def export_formats(fields: list[dict[str, Any]]) -> list[str]:
    """Every format the Explore API writes for this dataset: the geo ones (shp, kml, fgb, gpx, geojson)
    only where it has a field to draw, as the API refuses them otherwise."""
    has_geo = any(field["type"] in GEO_TYPES for field in fields)
    return [name for name, spec in FORMATS.items() if has_geo or not spec.geo]


def map_panel(fields: list[dict[str, Any]], settings: Settings) -> dict[str, Any] | None:
    """The map's fields (geo_point_2d and geo_shape) and the text field that names each drawn record
    (its tooltip: the first text field), or ``None`` when the dataset has no geo field."""
    geo = [field for field in fields if field["type"] in GEO_TYPES]
    if not geo:
        return None
    label = next((field for field in fields if field["type"] == "text"), None)
    return {
        "fields": geo,
        "label_field": label["name"] if label else "",
        "tiles_url": settings.map_tiles_url,
        "tiles_attribution": settings.map_tiles_attribution,
        "records": MAP_RECORDS,
    }


def chart_panel(fields: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The fields a chart can count by (text: the most frequent values; date, datetime: a time series),
    or ``None`` when the dataset has none."""
    chartable = [field for field in fields if field["type"] in CHART_TYPES]
    return {"fields": chartable} if chartable else None
