"""``records``: one page of a published dataset, queried with ODSQL, as Explore API v2.1 JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from datawharf.datasets.catalog import PublishedDataset
from datawharf.explore.values import json_rows
from datawharf.odsql import CompiledQuery, Mode, QueryRequest, compile_query
from datawharf.store.query_engine import QueryEngine, source_sql


def schema_of(dataset: PublishedDataset) -> dict[str, str]:
    """Field name -> type, in the dataset's field order (what ``select *`` expands to)."""
    return {f.name: f.type for f in dataset.fields}


def compile_for(dataset: PublishedDataset, request: QueryRequest, mode: Mode) -> CompiledQuery:
    """The request compiled over the dataset's current version (ODSQLError, a 400, when it is wrong:
    then nothing runs)."""
    schema = schema_of(dataset)
    return compile_query(request, schema, source_sql=source_sql(dataset.files, schema), mode=mode)


@dataclass(frozen=True)
class RecordsPage:
    total_count: int
    results: list[dict[str, Any]]

    def body(self) -> dict[str, Any]:
        return {"total_count": self.total_count, "results": self.results}


def query_records(engine: QueryEngine, dataset: PublishedDataset, request: QueryRequest) -> RecordsPage:
    compiled = compile_for(dataset, request, "records")
    total = engine.scalar(compiled.count_sql, compiled.count_params)
    results: list[dict[str, Any]] = []
    if compiled.limit != 0 and compiled.offset < (total or 0):
        _names, rows = engine.fetch(compiled.sql, compiled.params)
        results = json_rows(compiled.columns, rows, ZoneInfo(compiled.timezone))
    return RecordsPage(total_count=int(total or 0), results=results)
