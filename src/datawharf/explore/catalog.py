"""``catalog/datasets``: the published datasets a caller may read, filtered and sorted with ODSQL.

The datasets' metadata becomes a small Arrow table (one row a dataset, the columns of
``CATALOG_FIELDS``), registered in DuckDB for the one query, so ``where``/``order_by``/``refine`` are
the same ODSQL as on records, compiled by the same compiler: ``title like "air%"``, ``records_count >
1000``, ``modified >= date'2024-01-01'``, ``search("qualité")``. ``keyword`` and ``theme`` are lists in
the metadata; here they are one text, the values joined by ", " (``search(keyword, "air")`` finds one).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from datawharf.datasets.catalog import PublishedDataset
from datawharf.odsql import QueryRequest, compile_query
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


def _instant(value: Any) -> dt.datetime | None:
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


def _joined(value: Any) -> str | None:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or None
    return value if isinstance(value, str) else None


def public(dataset: PublishedDataset) -> dict[str, Any]:
    """The v2.1 dataset object: ``metas`` flattened (``{"title": "..."}``, not ``{"value": ...}``)."""
    metas = {template: _flat(fields) for template, fields in dataset.metadata.items()}
    default = metas.setdefault("default", {})
    default["modified"] = _iso(_instant(default.get("modified")) or dataset.modified)
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
                "annotations": {a["name"]: a.get("args") or True for a in f.annotations if "name" in a},
            }
            for f in dataset.fields
        ],
    }


def _row(dataset: PublishedDataset) -> dict[str, Any]:
    default = _flat(dataset.metadata.get("default", {}))
    return {
        "dataset_id": dataset.dataset_id,
        "dataset_uid": dataset.uid,
        "title": default.get("title"),
        "description": default.get("description"),
        "keyword": _joined(default.get("keyword")),
        "theme": _joined(default.get("theme")),
        "publisher": _joined(default.get("publisher")),
        "license": _joined(default.get("license")),
        "language": _joined(default.get("language")),
        "modified": _instant(default.get("modified")) or dataset.modified,
        "data_processed": dataset.modified,
        "records_count": dataset.records_count,
        "features": ", ".join(features(dataset)),
        "visibility": "restricted" if dataset.is_restricted else "domain",
    }


def metadata_table(datasets: Sequence[PublishedDataset]) -> pa.Table:
    schema = pa.schema([(name, _ARROW[ftype]) for name, ftype in CATALOG_FIELDS.items()])
    return pa.Table.from_pylist([_row(d) for d in datasets], schema=schema)


def query_catalog(
    engine: QueryEngine, datasets: Sequence[PublishedDataset], request: QueryRequest
) -> dict[str, Any]:
    """``{"total_count", "results"}`` of the datasets matching the request, in its order."""
    view = f"catalog_{uuid.uuid4().hex}"  # server-made name: the only text of the FROM clause
    compiled = compile_query(
        QueryRequest(
            select="dataset_id",
            where=request.where,
            order_by=request.order_by,
            limit=request.limit,
            offset=request.offset,
            refine=request.refine,
            exclude=request.exclude,
            timezone=request.timezone,
        ),
        CATALOG_FIELDS,
        source_sql=view,
        mode="records",
    )
    tables = {view: metadata_table(datasets)}
    total = engine.fetch_arrow(compiled.count_sql, compiled.count_params, tables=tables).column(0)[0].as_py()
    ids = engine.fetch_arrow(compiled.sql, compiled.params, tables=tables).column(0).to_pylist()
    by_id = {d.dataset_id: d for d in datasets}
    return {"total_count": int(total or 0), "results": [public(by_id[i]) for i in ids]}
