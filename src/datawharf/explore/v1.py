"""The v1 APIs' answers (Dataset API 1.0, Records API 1.0), read-only, from the same published data, the
same compiler and the same record ids as Explore v2.1.

A v1 search is turned into a v2.1 ``QueryRequest`` (``v1_query``), run by the v2.1 services
(``records.query_records`` with record ids, ``catalog.matching``, ``facets``), and its result reshaped
into the bodies Opendatasoft's v1 documents:

    records/1.0/search   {"nhits", "parameters", "records": [{"datasetid", "recordid", "fields",
                          "geometry", "record_timestamp"}], "facet_groups"}
    datasets/1.0/search  {"nhits", "parameters", "datasets": [dataset], "facet_groups"}
    datasets/1.0/{id}    dataset: {"datasetid", "metas", "fields", "has_records", "features",
                          "attachments", "interop_metas"...}

v1 values differ from v2.1's in three ways, kept here: a record's ``fields`` leave out empty values; a
geo point is ``[lat, lon]``; a record's ``geometry`` is the GeoJSON of its first geo field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from datawharf.datasets.catalog import PublishedDataset
from datawharf.datasets.metadata_templates import TEMPLATES
from datawharf.errors import InvalidInput
from datawharf.explore import catalog, facets, records
from datawharf.explore.records import ID_COLUMN
from datawharf.explore.v1_query import (
    distance_condition,
    facet_filter_map,
    facet_filters,
    fields_to_select,
    polygon_condition,
    q_to_odsql,
    sort_to_order_by,
)
from datawharf.odsql import QueryRequest
from datawharf.store.query_engine import QueryEngine

MAX_ROWS = 10_000  # rows, and start + rows, of one search (the download API has no limit)
DEFAULT_ROWS = 10


@dataclass(frozen=True)
class V1Search:
    """The parameters of a v1 search or download, as received (``refine``/``exclude`` as (facet, value))."""

    q: str | None = None
    rows: int | None = None
    start: int = 0
    sort: Sequence[str] = ()
    refine: Sequence[tuple[str, str]] = ()
    exclude: Sequence[tuple[str, str]] = ()
    facet: Sequence[str] = ()
    disjunctive: Sequence[str] = ()  # the facets of ``disjunctive.<facet>=true``
    fields: str | None = None
    distance: Sequence[str] = ()
    polygon: Sequence[str] = ()
    timezone: str = "UTC"
    extra: dict[str, Any] = field(default_factory=dict)  # more to echo in ``parameters`` (lang...)

    def parameters(self) -> dict[str, Any]:
        """The ``parameters`` object of the answer: what was asked, the defaults filled in."""
        shown: dict[str, Any] = {"timezone": self.timezone}
        if self.q:
            shown["q"] = self.q
        shown["rows"] = DEFAULT_ROWS if self.rows is None else self.rows
        shown["start"] = self.start
        for key, value in (
            ("sort", list(self.sort)),
            ("facet", list(self.facet)),
            ("refine", facet_filter_map(self.refine)),
            ("exclude", facet_filter_map(self.exclude)),
            ("geofilter.distance", list(self.distance)),
            ("geofilter.polygon", list(self.polygon)),
            ("fields", [f.strip() for f in (self.fields or "").split(",") if f.strip()]),
        ):
            if value:
                shown[key] = value
        shown["format"] = "json"
        return {**shown, **self.extra}


def _window(search: V1Search) -> tuple[int, int]:
    rows = DEFAULT_ROWS if search.rows is None else search.rows
    if not 0 <= rows <= MAX_ROWS or search.start < 0 or search.start + rows > MAX_ROWS:
        raise InvalidInput(
            f"rows must be 0 to {MAX_ROWS} and start + rows at most {MAX_ROWS} (got rows={rows}, "
            f"start={search.start}); download everything with /api/records/1.0/download/.",
            error_code="v1_invalid_rows",
            detail={"rows": rows, "start": search.start},
        )
    return rows, search.start


def _geo_field(dataset: PublishedDataset, kind: str) -> str | None:
    return next((f.name for f in dataset.fields if f.type == kind), None)


RECORD_ID_FACET = "recordid"  # refine.recordid=<id>: the record of that id (as portal pages ask for one)


def _by_record_id(
    pairs: Sequence[tuple[str, str]], schema: Mapping[str, str], with_ids: bool
) -> list[tuple[str, str]]:
    """``recordid`` filters aimed at the record id column (unless the dataset has a field of that name)."""
    if RECORD_ID_FACET in schema or all(name != RECORD_ID_FACET for name, _ in pairs):
        return list(pairs)
    if not with_ids:
        raise InvalidInput(
            "refine.recordid / exclude.recordid filter records/1.0/search and the json downloads only; "
            "drop facet (or ask for format=json) with them, or look the record up at "
            "/api/datasets/1.0/<dataset_id>/records/<recordid>/.",
            error_code="v1_recordid_filter",
            detail={"filter": RECORD_ID_FACET},
        )
    return [(ID_COLUMN if name == RECORD_ID_FACET else name, value) for name, value in pairs]


def records_request(
    dataset: PublishedDataset, search: V1Search, *, paged: bool, with_ids: bool = True
) -> QueryRequest:
    """The v2.1 request a v1 search of ``dataset`` means (``paged``: its rows/start window; else all).
    ``with_ids``: whether it is compiled with record ids (``records.compile_with_ids``), which a
    ``refine.recordid`` needs."""
    schema = records.schema_of(dataset)
    where = [w for w in [q_to_odsql(search.q or "", schema)] if w]
    point, shape = _geo_field(dataset, "geo_point_2d"), _geo_field(dataset, "geo_shape")
    where += [distance_condition(value, point or shape) for value in search.distance]
    where += [polygon_condition(value, point, shape) for value in search.polygon]
    limit, offset = _window(search) if paged else (None, 0)
    return QueryRequest(
        select=fields_to_select(search.fields),
        where=where,
        order_by=sort_to_order_by(search.sort),
        limit=limit,
        offset=offset,
        refine=facet_filters(_by_record_id(search.refine, schema, with_ids)),
        exclude=facet_filters(_by_record_id(search.exclude, schema, with_ids)),
        timezone=search.timezone,
    )


def _geometry(value: Any, ftype: str) -> dict[str, Any] | None:
    if ftype == "geo_point_2d" and isinstance(value, dict):
        return {"type": "Point", "coordinates": [value["lon"], value["lat"]]}
    if ftype == "geo_shape" and isinstance(value, dict):
        return value.get("geometry") if value.get("type") == "Feature" else value
    return None


class RecordShaper:
    """v2.1 records (JSON values, each with its ``_id``) in the v1 shape, for one dataset's result
    columns (``types``: name -> type, in the dataset's order). The geo columns are found once, so a
    download of millions of records pays only for what a record holds."""

    def __init__(self, dataset_id: str, types: Mapping[str, str], timestamp: str | None) -> None:
        self.dataset_id = dataset_id
        self.timestamp = timestamp
        self.geo = [(name, ftype) for name, ftype in types.items() if ftype in ("geo_point_2d", "geo_shape")]
        self.points = [name for name, ftype in self.geo if ftype == "geo_point_2d"]

    def __call__(self, record: dict[str, Any]) -> dict[str, Any]:
        record_id = record.pop("_id", None)
        fields = {name: value for name, value in record.items() if value is not None}
        geometry = next((g for name, ftype in self.geo if (g := _geometry(fields.get(name), ftype))), None)
        for name in self.points:
            point = fields.get(name)
            if isinstance(point, dict):
                fields[name] = [point["lat"], point["lon"]]
        shown: dict[str, Any] = {"datasetid": self.dataset_id, "recordid": record_id, "fields": fields}
        if geometry is not None:
            shown["geometry"] = geometry
        shown["record_timestamp"] = self.timestamp
        return shown


def record_timestamp(dataset: PublishedDataset) -> str | None:
    """A v1 record's ``record_timestamp``: when the dataset's current version was published."""
    return dataset.modified.isoformat() if dataset.modified is not None else None


def facet_groups(enumerations: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """v2.1 facet enumerations as v1 ``facet_groups``: each value ``{name, path, count, state}``, a
    hierarchical (date) value's children named by their own part (``{"name": "09", "path": "2012/09"}``),
    as v1's "Using facets" shows them."""

    def values(entries: Sequence[dict[str, Any]], parent: str | None) -> list[dict[str, Any]]:
        shown = []
        for entry in entries:
            path = entry["value"]
            name = (
                path[len(parent) + 1 :]
                if parent is not None and path.startswith(f"{parent}/")
                else entry["name"]
            )
            value: dict[str, Any] = {"name": name, "path": path}
            if "count" in entry:
                value["count"] = entry["count"]
            value["state"] = entry["state"]
            if entry.get("facets"):
                value["facets"] = values(entry["facets"], path)
            shown.append(value)
        return shown

    return [{"name": group["name"], "facets": values(group["facets"], None)} for group in enumerations]


def search_records(engine: QueryEngine, dataset: PublishedDataset, search: V1Search) -> dict[str, Any]:
    """The ``records/1.0/search`` body over ``dataset``."""
    request = records_request(dataset, search, paged=True)
    if search.facet:  # facets are counted without record ids: a recordid filter is refused there
        records_request(dataset, search, paged=True, with_ids=False)
    page = records.query_records(engine, dataset, request, ids=True, mode="exports")
    shaped = RecordShaper(dataset.dataset_id, records.schema_of(dataset), record_timestamp(dataset))
    body: dict[str, Any] = {
        "nhits": page.total_count,
        "parameters": {"dataset": [dataset.dataset_id], **search.parameters()},
        "records": [shaped(r) for r in page.results],
    }
    if search.facet:
        filters = dataclasses.replace(request, select=None, order_by=None, limit=None, offset=0)
        asked = [
            f'facet(name="{name}", disjunctive=true)'
            if name in search.disjunctive and '"' not in name
            else name
            for name in search.facet
        ]  # a disjunctive facet counts its values without its own refine: every value stays selectable
        body["facet_groups"] = facet_groups(facets.dataset_facets(engine, dataset, filters, asked)["facets"])
    return body


def lookup_record(
    engine: QueryEngine, dataset: PublishedDataset, record_id: str, timezone: str = "UTC"
) -> dict[str, Any]:
    """``datasets/1.0/{id}/records/{recordid}``: the record whose id is ``record_id`` (the v2.1 lookup's
    ``record_not_found`` otherwise), in the v1 shape."""
    found = records.get_record(engine, dataset, record_id, QueryRequest(timezone=timezone))
    shaped = RecordShaper(dataset.dataset_id, records.schema_of(dataset), record_timestamp(dataset))
    return shaped({"_id": record_id, **found})


def _annotations(shown: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """v2.1 annotations (``{"unit": ["km2"], "facet": []}``) as v1 lists them."""
    return [{"name": name, **({"args": args} if args else {})} for name, args in shown.items()]


# What v1 puts in ``interop_metas``: the reference's interoperability templates (dcat, inspire...).
INTEROP_TEMPLATES = tuple(name for name, spec in TEMPLATES.items() if spec.type == "interop")


def _set(values: Mapping[str, Any]) -> dict[str, Any]:
    """The metadata that has a value: v1 leaves unset ones out (harvesters ``.strip()`` what is there)."""
    return {name: value for name, value in values.items() if value is not None and value != []}


def dataset_object(dataset: PublishedDataset, domain: str) -> dict[str, Any]:
    """The v1 dataset: ``metas`` the default template's set values (with ``domain``, ``visibility``,
    ``records_count``, ``modified``...), ``interop_metas`` the interoperability templates that hold any."""
    shown = catalog.public(dataset)
    metas = {"domain": domain, **_set(shown["metas"].get("default", {})), "visibility": shown["visibility"]}
    if "data_processed" in metas:
        metas["metadata_processed"] = metas["data_processed"]
    interop = {
        name: values
        for name in INTEROP_TEMPLATES
        if (values := _set(shown["metas"].get(name, {})))
    }  # fmt: skip
    body: dict[str, Any] = {
        "datasetid": dataset.dataset_id,
        "dataset_uid": dataset.uid,
        "has_records": shown["has_records"],
        "data_visible": shown["data_visible"],
        "features": shown["features"],
        "attachments": [],
        "alternative_exports": [],
        "billing_plans": [],
        "metas": metas,
        "fields": [
            {
                "name": f["name"],
                "label": f["label"],
                "type": f["type"],
                "description": f["description"],
                "annotations": _annotations(f["annotations"]),
            }
            for f in shown["fields"]
        ],
    }
    if interop:
        body["interop_metas"] = interop
    return body


def _catalog_names(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """v1 names of catalog fields as the catalog has them (``refine.datasetid`` -> ``dataset_id``)."""
    return [("dataset_id" if name == "datasetid" else name, value) for name, value in pairs]


def search_datasets(
    engine: QueryEngine, datasets: Sequence[PublishedDataset], search: V1Search, domain: str
) -> dict[str, Any]:
    """The ``datasets/1.0/search`` body over the datasets the caller may read. ``rows=-1`` lists them all
    (a catalog is small; portal scrapers ask so); ``datasetid`` is the catalog's ``dataset_id``."""
    everything = search.rows == -1
    limit, offset = (None, max(search.start, 0)) if everything else _window(search)
    request = QueryRequest(
        where=[w for w in [q_to_odsql(search.q or "", catalog.CATALOG_FIELDS)] if w],
        order_by=sort_to_order_by(search.sort),
        limit=limit,
        offset=offset,
        refine=facet_filters(_catalog_names(search.refine)),
        exclude=facet_filters(_catalog_names(search.exclude)),
        timezone=search.timezone,
    )
    total, page = catalog.matching(engine, datasets, request, mode="exports")
    body: dict[str, Any] = {
        "nhits": total,
        "parameters": {**search.parameters(), "staged": False},
        "datasets": [dataset_object(d, domain) for d in page],
    }
    if search.facet:
        filters = dataclasses.replace(request, order_by=None, limit=None, offset=0)
        body["facet_groups"] = facet_groups(
            facets.catalog_facets(engine, datasets, filters, list(search.facet))["facets"]
        )
    return body
