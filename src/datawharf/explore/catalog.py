"""``catalog/datasets``: the published datasets a caller may read, filtered and sorted with ODSQL.

The datasets' metadata becomes a small Arrow table (one row a dataset, the columns of
``CATALOG_FIELDS``), registered in DuckDB for the one query, so ``where``/``order_by``/``refine`` are
the same ODSQL as on records, compiled by the same compiler: ``title like "air%"``, ``records_count >
1000``, ``modified >= date'2024-01-01'``, ``search("qualité")``. ``keyword`` and ``theme`` are lists in
the metadata; here they are one text, the values joined by ", " (``search(keyword, "air")`` finds one).
``refine``/``exclude`` on a multivalued field (``MULTIVALUED``) match one of its values
(``refine=keyword:bike`` finds a dataset whose keywords are ``["bike", "city"]``): those filter the
datasets before the table is made; the others go to the compiler.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import uuid
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from datawharf.datasets.catalog import PublishedDataset, PublishedField
from datawharf.datasets.metadata import shown_metadata
from datawharf.explore.values import json_rows
from datawharf.odsql import Mode, QueryRequest, compile_query, parse_select, to_odsql
from datawharf.store.query_engine import QueryEngine

CATALOG_FIELDS: dict[str, str] = {
    "dataset_id": "text",
    "dataset_uid": "text",
    "title": "text",
    "description": "text",
    "keyword": "text",
    "theme": "text",
    "publisher": "text",
    "license": "text",
    "language": "text",
    "modified": "datetime",
    "data_processed": "datetime",
    "records_count": "int",
    "features": "text",
    "visibility": "text",
}
MULTIVALUED = ("keyword", "theme", "features", "publisher", "language", "license")
_ARROW = {"text": pa.string(), "int": pa.int64(), "datetime": pa.timestamp("us", tz="UTC")}


def features(dataset: PublishedDataset) -> list[str]:
    """What a client may do with the dataset, in the v2.1 vocabulary."""
    types = {f.type for f in dataset.fields}
    found = ["analyze"]
    if types & {"geo_point_2d", "geo_shape"}:
        found.append("geo")
    if types & {"date", "datetime"}:
        found.append("timeserie")
    return found


def _flat(template: dict[str, Any]) -> dict[str, Any]:
    return {
        name: (entry.get("value") if isinstance(entry, dict) else entry) for name, entry in template.items()
    }


def explore_metas(dataset: PublishedDataset) -> dict[str, dict[str, Any]]:
    """The published metadata as v2.1 ``metas`` shows it: flattened (``{"title": "..."}``), without the
    ``internal`` template, which Opendatasoft keeps off the portal; ``default.license`` and
    ``default.theme`` fall back on ``internal.license_id`` / ``internal.theme_id``, so that a license or a
    theme set by its id alone is still filtered on in the catalog (``refine=license:...``)."""
    shown = shown_metadata(dataset.metadata)
    internal = _flat(shown.pop("internal", {}))
    metas = {template: _flat(fields) for template, fields in shown.items()}
    default = metas.setdefault("default", {})
    for name, fallback in (("license", "license_id"), ("theme", "theme_id")):
        if default.get(name) is None and internal.get(fallback) is not None:
            default[name] = internal[fallback]
    return metas


def instant(value: Any) -> dt.datetime | None:
    """A metadata date (a datetime, or ISO text) as an aware datetime; None when it is not one."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return None


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value is not None else None


def _joined(value: Any, separator: str = ", ") -> str | None:
    if isinstance(value, list):
        return separator.join(str(v) for v in value) or None
    return value if isinstance(value, str) else None


def facet_settings(dataset: PublishedDataset) -> dict[str, dict[str, Any]]:
    """The dataset's facets as its ``asset_content_configuration`` metadata lists them (the reference's
    place for them): field name -> ``{"field_name", "facetsort"?, "disjunctive"?}``, in their order."""
    facets = dataset.metadata.get("asset_content_configuration", {}).get("facets")
    value = facets.get("value") if isinstance(facets, dict) else facets
    if not isinstance(value, list):
        return {}
    return {
        str(entry["field_name"]): entry
        for entry in value
        if isinstance(entry, dict) and isinstance(entry.get("field_name"), str)
    }


def _annotations(field: PublishedField, facet: dict[str, Any] | None) -> dict[str, list[Any]]:
    """The field's annotations as v2.1 shows them (``{"unit": ["km2"], "facet": []}``), its facet's
    settings among them."""
    shown = {a["name"]: list(a.get("args") or []) for a in field.annotations if "name" in a}
    if facet is not None:
        shown["facet"] = []
        if facet.get("facetsort"):
            shown["facetsort"] = [facet["facetsort"]]
        if facet.get("disjunctive"):
            shown["disjunctive"] = []
    return shown


def public(dataset: PublishedDataset) -> dict[str, Any]:
    """The v2.1 dataset object: ``metas`` flattened (``{"title": "..."}``, not ``{"value": ...}``)."""
    metas = explore_metas(dataset)
    facets = facet_settings(dataset)
    default = metas.setdefault("default", {})
    default["modified"] = _iso(instant(default.get("modified")) or dataset.modified)
    default["data_processed"] = _iso(dataset.modified)
    default["records_count"] = dataset.records_count
    return {
        "dataset_id": dataset.dataset_id,
        "dataset_uid": dataset.uid,
        "visibility": "restricted" if dataset.is_restricted else "domain",
        "has_records": dataset.records_count > 0,
        "data_visible": True,
        "features": features(dataset),
        "attachments": [],
        "alternative_exports": [],
        "metas": metas,
        "fields": [
            {
                "name": f.name,
                "label": f.label,
                "type": f.type,
                "description": f.description,
                "annotations": _annotations(f, facets.get(f.name)),
            }
            for f in dataset.fields
        ],
    }


def values_of(dataset: PublishedDataset, name: str) -> list[str]:
    """A multivalued catalog field's values for one dataset (a text is one value)."""
    if name == "features":
        return features(dataset)
    value = explore_metas(dataset)["default"].get(name)
    if isinstance(value, list):
        return [str(v) for v in value if v is not None]
    return [value] if isinstance(value, str) and value else []


def facet_pair(text: str) -> tuple[str, str]:
    name, _sep, value = text.partition(":")
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return name.strip().strip("`"), value


def _multivalued_filters(
    datasets: Sequence[PublishedDataset], request: QueryRequest
) -> tuple[list[PublishedDataset], QueryRequest]:
    """The datasets kept by the refines and excludes on multivalued fields, and the request without them."""
    kept = list(datasets)
    rest: dict[str, list[str]] = {"refine": [], "exclude": []}
    for kind, filters in (("refine", request.refine), ("exclude", request.exclude)):
        for text in filters:
            name, value = facet_pair(text)
            if name not in MULTIVALUED or ":" not in text:
                rest[kind].append(text)
                continue
            keep = kind == "refine"
            kept = [d for d in kept if (value in values_of(d, name)) == keep]
    return kept, dataclasses.replace(request, refine=rest["refine"], exclude=rest["exclude"])


def modified(dataset: PublishedDataset) -> dt.datetime | None:
    """When the dataset last changed: its ``modified`` metadata, else its data's publish time."""
    return instant(explore_metas(dataset)["default"].get("modified")) or dataset.modified


def _row(dataset: PublishedDataset, separator: str = ", ") -> dict[str, Any]:
    default = explore_metas(dataset)["default"]
    return {
        "dataset_id": dataset.dataset_id,
        "dataset_uid": dataset.uid,
        "title": default.get("title"),
        "description": default.get("description"),
        "keyword": _joined(default.get("keyword"), separator),
        "theme": _joined(default.get("theme"), separator),
        "publisher": _joined(default.get("publisher"), separator),
        "license": _joined(default.get("license"), separator),
        "language": _joined(default.get("language"), separator),
        "modified": modified(dataset),
        "data_processed": dataset.modified,
        "records_count": dataset.records_count,
        "features": separator.join(features(dataset)),
        "visibility": "restricted" if dataset.is_restricted else "domain",
    }


def metadata_table(datasets: Sequence[PublishedDataset], separator: str = ", ") -> pa.Table:
    """One row a dataset, the columns of ``CATALOG_FIELDS``; the lists' values joined by ``separator``."""
    schema = pa.schema([(name, _ARROW[ftype]) for name, ftype in CATALOG_FIELDS.items()])
    return pa.Table.from_pylist([_row(d, separator) for d in datasets], schema=schema)


def matching(
    engine: QueryEngine, datasets: Sequence[PublishedDataset], request: QueryRequest, mode: Mode = "records"
) -> tuple[int, list[PublishedDataset]]:
    """The number of datasets matching the request, and those of its page (``exports``: all), in order."""
    kept, request = _multivalued_filters(datasets, request)
    view = f"catalog_{uuid.uuid4().hex}"  # server-made name: the only text of the FROM clause
    compiled = compile_query(
        dataclasses.replace(request, select="dataset_id", group_by=None),
        CATALOG_FIELDS,
        source_sql=view,
        mode=mode,
    )
    tables = {view: metadata_table(kept)}
    total = engine.fetch_arrow(compiled.count_sql, compiled.count_params, tables=tables).column(0)[0].as_py()
    ids = engine.fetch_arrow(compiled.sql, compiled.params, tables=tables).column(0).to_pylist()
    by_id = {d.dataset_id: d for d in kept}
    return int(total or 0), [by_id[i] for i in ids]


OBJECT_KEYS = (
    "dataset_id", "dataset_uid", "visibility", "has_records", "data_visible", "features",
    "attachments", "alternative_exports", "metas", "fields",
)  # fmt: skip
KEY = "__dataset_key"  # the column that ties a selected row to its dataset


def _direct(dataset: PublishedDataset, shown: dict[str, Any], name: str) -> Any:
    """A selected name taken from the dataset itself: a key of its object, or a multivalued list."""
    return shown[name] if name in OBJECT_KEYS else values_of(dataset, name)


def _selected(
    engine: QueryEngine, datasets: Sequence[PublishedDataset], request: QueryRequest
) -> dict[str, Any]:
    """A catalog query with ``select`` or ``group_by``.

    Grouped or aggregated (``select=publisher, count(*) as n&group_by=publisher``): the rows, as records
    are. Else each dataset becomes the selected items in order: a key of the dataset object
    (``fields``, ``metas``...) or a multivalued field (``keyword``: its list) as it is, ``*`` the whole
    object, any other expression computed by ODSQL over the catalog fields."""
    kept, request = _multivalued_filters(datasets, request)
    view = f"catalog_{uuid.uuid4().hex}"
    tables = {view: metadata_table(kept)}

    def run(select: str | None) -> tuple[int, list[dict[str, Any]]]:
        compiled = compile_query(
            dataclasses.replace(request, select=select), CATALOG_FIELDS, source_sql=view, mode="records"
        )
        total = engine.fetch_arrow(compiled.count_sql, compiled.count_params, tables=tables)
        rows = [
            tuple(_number(v) for v in row.values())
            for row in engine.fetch_arrow(compiled.sql, compiled.params, tables=tables).to_pylist()
        ]
        converted = json_rows(compiled.columns, rows, ZoneInfo(compiled.timezone))
        return int(total.column(0)[0].as_py() or 0), converted

    items = parse_select(request.select) if request.select else []
    plain = [to_odsql(i.expr) if i.alias is None else None for i in items]
    direct = {p for p in plain if p in OBJECT_KEYS or p in MULTIVALUED or p == "*"}
    computed = [
        to_odsql(i.expr) + (f" as `{i.alias}`" if i.alias else "") for i, p in zip(items, plain, strict=True)
        if p not in direct
    ]  # fmt: skip
    probe = compile_query(
        dataclasses.replace(request, select=", ".join(computed) or None), CATALOG_FIELDS, source_sql=view
    )
    if request.group_by or probe.aggregated:
        total, rows = run(request.select)
        return {"total_count": total, "results": rows}
    total, rows = run(", ".join([f"dataset_id as {KEY}", *computed]))
    by_id = {d.dataset_id: d for d in kept}
    results = []
    for row in rows:
        dataset = by_id[row.pop(KEY)]
        shown = public(dataset)
        result: dict[str, Any] = {}
        for p in plain:
            if p == "*":
                result.update(shown)
            elif p in direct:
                result[p] = _direct(dataset, shown, p)
        result.update(row)
        results.append({name: result[name] for name in dict.fromkeys([*_order(plain, items), *result])})
    return {"total_count": total, "results": results}


def _number(value: Any) -> Any:
    """Arrow hands DuckDB's HUGEINT sums over as decimals; JSON wants the number they are."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _order(plain: list[str | None], items: list[Any]) -> list[str]:
    """The result keys in select order (an alias, or the expression's text)."""
    names: list[str] = []
    for p, item in zip(plain, items, strict=True):
        if p != "*":
            names.append(str(item.alias or p))
    return names


def query_catalog(
    engine: QueryEngine, datasets: Sequence[PublishedDataset], request: QueryRequest
) -> dict[str, Any]:
    """``{"total_count", "results"}`` of the datasets matching the request, in its order."""
    if request.select or request.group_by:
        return _selected(engine, datasets, request)
    total, page = matching(engine, datasets, request)
    return {"total_count": total, "results": [public(d) for d in page]}
