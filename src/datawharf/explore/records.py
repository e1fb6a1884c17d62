"""``records``: one page of a published dataset, queried with ODSQL, as Explore API v2.1 JSON; one record
by its id.

A record's id (``_id``) is the SHA-1 of the record's values as DuckDB writes them in JSON (on connections
whose timezone is UTC): stable while the record does not change, across republishes of the same data, as
an Opendatasoft portal's are. Two identical records share an id (their lookup answers the first). The
ids are computed in the query (``ID_COLUMN``), only when asked (``include_links``) or looked up.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

from datawharf.datasets.catalog import PublishedDataset
from datawharf.errors import NotFound
from datawharf.explore.values import json_rows
from datawharf.odsql import CompiledQuery, Mode, QueryRequest, compile_query
from datawharf.store.query_engine import QueryEngine, source_sql


def schema_of(dataset: PublishedDataset) -> dict[str, str]:
    """Field name -> type, in the dataset's field order (what ``select *`` expands to)."""
    return {f.name: f.type for f in dataset.fields}


ID_COLUMN = "__record_id"
_RECORD_ID = re.compile(r"^[0-9a-f]{40}$")


def version_source(dataset: PublishedDataset, schema: dict[str, str]) -> str:
    """The FROM expression over the current version's files (local or on the warehouse's S3)."""
    return source_sql(dataset.files, schema, dataset.filesystem)


def compile_for(dataset: PublishedDataset, request: QueryRequest, mode: Mode) -> CompiledQuery:
    """The request compiled over the dataset's current version (ODSQLError, a 400, when it is wrong:
    then nothing runs)."""
    schema = schema_of(dataset)
    return compile_query(request, schema, source_sql=version_source(dataset, schema), mode=mode)


def _with_ids(dataset: PublishedDataset, where_id: str | None = None) -> tuple[dict[str, str], str]:
    """The schema and FROM expression of the version with each record's id as one more column (of the
    records whose id is ``where_id`` only, when given: checked hex, so it is SQL text safely)."""
    schema = schema_of(dataset)
    record_id = "sha1(CAST(to_json(t) AS VARCHAR))"
    source = f"(SELECT *, {record_id} AS {ID_COLUMN} FROM {version_source(dataset, schema)} AS t"
    source += f" WHERE {record_id} = '{where_id}')" if where_id is not None else ")"
    return {**schema, ID_COLUMN: "text"}, source


def compile_with_ids(
    dataset: PublishedDataset, request: QueryRequest, where_id: str | None = None, mode: Mode = "records"
) -> CompiledQuery:
    """The request compiled so that each (not aggregated) result row ends with its record's id."""
    schema, source = _with_ids(dataset, where_id)
    compiled = compile_query(request, schema, source_sql=source, mode=mode)
    if compiled.aggregated or any(c.name == ID_COLUMN for c in compiled.columns):
        return compiled
    return compile_query(
        replace(request, select=f"{request.select}, `{ID_COLUMN}`"), schema, source_sql=source, mode=mode
    )


@dataclass(frozen=True)
class RecordsPage:
    total_count: int
    results: list[dict[str, Any]]
    limit: int = 0  # the page's window, as compiled (its default applied)
    offset: int = 0

    def body(self) -> dict[str, Any]:
        return {"total_count": self.total_count, "results": self.results}


def _ided(results: list[dict[str, Any]], links: Any) -> list[dict[str, Any]]:
    """Each record with its ``_id`` first (and its ``_links``, from ``links(record_id)``)."""
    out = []
    for record in results:
        record_id = record.pop(ID_COLUMN, None)
        if record_id is None:
            out.append(record)
            continue
        head: dict[str, Any] = {"_id": record_id}
        if links is not None:
            head["_links"] = links(record_id)
        out.append({**head, **record})
    return out


def query_records(
    engine: QueryEngine,
    dataset: PublishedDataset,
    request: QueryRequest,
    *,
    links: Any = None,
    ids: bool = False,
    mode: Mode = "records",
    count: Callable[[str, Any], int] | None = None,
) -> RecordsPage:
    """One page; with ``ids``, each record carries its ``_id``; with ``links`` (record id -> its
    ``_links``), its ``_id`` and them. ``mode="exports"`` lifts the records window (the v1 APIs keep
    their own). ``count(sql, params)`` answers the ``total_count`` query (default: the engine;
    ``explore/cache.py`` keeps it per version and filter, shared by every page and order of that filter)."""
    ids = ids or links is not None
    compiled = compile_with_ids(dataset, request, mode=mode) if ids else compile_for(dataset, request, mode)
    if count is not None:
        total: Any = count(compiled.count_sql, compiled.count_params)
    else:
        total = engine.scalar(compiled.count_sql, compiled.count_params)
    results: list[dict[str, Any]] = []
    if compiled.limit != 0 and compiled.offset < (total or 0):
        _names, rows = engine.fetch(compiled.sql, compiled.params)
        results = json_rows(compiled.columns, rows, ZoneInfo(compiled.timezone))
    return RecordsPage(
        total_count=int(total or 0),
        results=_ided(results, links) if ids else results,
        limit=compiled.limit or 0,
        offset=compiled.offset,
    )


def get_record(
    engine: QueryEngine, dataset: PublishedDataset, record_id: str, request: QueryRequest
) -> dict[str, Any]:
    """The record whose id is ``record_id`` (its selected fields), or ``record_not_found``."""
    found: list[dict[str, Any]] = []
    if _RECORD_ID.match(record_id):
        compiled = compile_with_ids(dataset, replace(request, limit=1, offset=0), where_id=record_id)
        _names, rows = engine.fetch(compiled.sql, compiled.params)
        found = json_rows(compiled.columns, rows, ZoneInfo(compiled.timezone))
    if not found:
        raise NotFound(
            f"No record '{record_id[:60]}' in dataset '{dataset.dataset_id}'. A record id is the `_id` of a "
            "record in the records results (ask for them with include_links=true).",
            error_code="record_not_found",
            detail={"record_id": record_id[:60], "dataset_id": dataset.dataset_id},
        )
    found[0].pop(ID_COLUMN, None)
    return found[0]
