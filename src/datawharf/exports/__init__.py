"""Exports: a published dataset queried with ODSQL, streamed as csv, json, jsonl, geojson, parquet or xlsx.

``open_export`` compiles the request (exports mode: no limit unless asked), takes the client's export
slot (``slots``: a per-address cap), starts the query as a stream of DuckDB record batches, and reads the
first batch before it returns, so a query that cannot run fails as a clean error before any byte is
sent. The caller then streams ``Export.chunks``; the slot and the query's connection are given back when
the iterator ends or is closed. A result of any size passes through one batch at a time (xlsx: one row
at a time into a temporary file). The engine should be one of its own (the Explore API's export pool):
a download lasts as long as its client reads.

Adding a format: a writer ``(ExportContext, batches) -> Iterator[bytes]`` and one line in ``FORMATS``.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from datawharf.datasets.catalog import PublishedDataset
from datawharf.errors import InvalidInput
from datawharf.explore.records import compile_for, compile_with_ids
from datawharf.exports.context import GEO_TYPES, ExportContext, ExportOptions, Writer
from datawharf.exports.csv_writer import write_csv
from datawharf.exports.geometry import WGS84, Projection, geometry_column
from datawharf.exports.json_writers import write_geojson, write_json, write_jsonl
from datawharf.exports.kml_writer import write_kml
from datawharf.exports.lists import relisted, separators
from datawharf.exports.ogr_writers import write_fgb, write_gpx, write_shp
from datawharf.exports.parquet_writer import write_parquet
from datawharf.exports.slots import ExportSlots, TooManyExports
from datawharf.exports.v1_json_writer import write_v1_json
from datawharf.exports.xlsx_writer import check_rows, write_xlsx
from datawharf.odsql import QueryRequest
from datawharf.store.query_engine import QueryEngine


@dataclass(frozen=True)
class Format:
    extension: str
    media_type: str
    write: Writer
    labels: bool = False  # whether use_labels renames the columns
    geo: bool = False  # only for datasets with a geo field
    lists: bool = False  # list_separator joins the values of multivalued fields
    projects: bool = False  # epsg reprojects the geometries (else only 4326)
    buffered: bool = False  # written whole to a file before the first byte: its errors are clean too
    ids: bool = False  # whether the rows carry their record id (``records.ID_COLUMN``) for the writer


FORMATS: dict[str, Format] = {
    "csv": Format("csv", "text/csv; charset=utf-8", write_csv, labels=True, lists=True),
    "json": Format("json", "application/json", write_json),
    "jsonl": Format("jsonl", "application/jsonl", write_jsonl),
    "geojson": Format("geojson", "application/geo+json", write_geojson, geo=True, projects=True),
    "shp": Format("zip", "application/zip", write_shp, geo=True, projects=True, buffered=True),
    "kml": Format("kml", "application/vnd.google-earth.kml+xml", write_kml, geo=True),
    "fgb": Format("fgb", "application/octet-stream", write_fgb, geo=True, projects=True, buffered=True),
    "gpx": Format("gpx", "application/gpx+xml", write_gpx, geo=True, buffered=True),
    "parquet": Format("parquet", "application/vnd.apache.parquet", write_parquet),
    "xlsx": Format(
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        write_xlsx,
        labels=True,
        lists=True,
    ),
}

# The v1 download API's formats: the same files, but its JSON is an array of v1 records (with ids).
V1_FORMATS: dict[str, Format] = {
    **FORMATS,
    "json": Format("json", "application/json", write_v1_json, ids=True),
}

__all__ = [
    "FORMATS",
    "V1_FORMATS",
    "Export",
    "ExportOptions",
    "ExportSlots",
    "Format",
    "TooManyExports",
    "dataset_formats",
    "export_file",
    "get_format",
    "gzipped",
    "open_export",
]


@dataclass
class Export:
    media_type: str
    filename: str
    chunks: Iterator[bytes]


def gzipped(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """``chunks`` compressed as one gzip stream, a chunk at a time (``compressed=true``); closing this
    closes ``chunks`` (and gives back its connection and slot)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: the gzip container
    try:
        for chunk in chunks:
            out = compressor.compress(chunk)
            if out:
                yield out
        yield compressor.flush()
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def export_file(dataset: PublishedDataset, format_name: str, *, compressed: bool = False) -> tuple[str, str]:
    """The media type and file name of an export of ``dataset`` (``compressed``: the gzip of it)."""
    fmt = get_format(format_name)
    filename = f"{dataset.dataset_id}.{fmt.extension}"
    return ("application/gzip", f"{filename}.gz") if compressed else (fmt.media_type, filename)


def dataset_formats(dataset: PublishedDataset) -> list[str]:
    """The formats a dataset exports to (the geo ones only when it has a geo field)."""
    geo = any(f.type in GEO_TYPES for f in dataset.fields)
    return [name for name, fmt in FORMATS.items() if geo or not fmt.geo]


def get_format(name: str, formats: Mapping[str, Format] = FORMATS) -> Format:
    found = formats.get(name)
    if found is None:
        raise InvalidInput(
            f"Unknown export format '{name[:40]}'; use one of {', '.join(formats)}.",
            error_code="unknown_export_format",
            detail={"format": name[:40], "formats": list(formats)},
        )
    return found


def _headers(dataset: PublishedDataset, names: list[str], use_labels: bool) -> list[str]:
    if not use_labels:
        return names
    labels = {f.name: f.label for f in dataset.fields}
    headers: list[str] = []
    for name in names:
        label = labels.get(name, name)
        headers.append(label if label not in headers else name)
    return headers


def _projection(format_name: str, fmt: Format, epsg: int) -> Projection | None:
    """The reprojection a geo format applies; 4326 (as stored) is the only code the others take."""
    if epsg != WGS84 and not fmt.projects:
        reprojecting = [name for name, f in FORMATS.items() if f.projects]
        raise InvalidInput(
            f"A {format_name} export is written in WGS 84 (epsg 4326) only; epsg {epsg} reprojects "
            f"{', '.join(reprojecting)} exports.",
            error_code="epsg_not_supported_by_format",
            detail={"format": format_name, "epsg": epsg, "formats": reprojecting},
        )
    return Projection(epsg) if fmt.geo else None


def open_export(
    engine: QueryEngine,
    dataset: PublishedDataset,
    request: QueryRequest,
    format_name: str,
    options: ExportOptions | None = None,
    *,
    slot: AbstractContextManager[None] | None = None,
    formats: Mapping[str, Format] = FORMATS,
) -> Export:
    """Check and start an export; errors (bad ODSQL, no slot left, a query that cannot run) are raised
    here. ``slot`` (``ExportSlots.claim(address)``) is held for the life of the stream; ``formats`` is
    ``FORMATS`` (Explore v2.1) or ``V1_FORMATS`` (the v1 download API)."""
    fmt = get_format(format_name, formats)
    options = options or ExportOptions()
    if fmt.ids:
        compiled = compile_with_ids(dataset, request, mode="exports")
    else:
        compiled = compile_for(dataset, request, "exports")
    names = [c.name for c in compiled.columns]
    zone = ZoneInfo(compiled.timezone)
    projection = _projection(format_name, fmt, options.epsg)
    if fmt.geo:
        geometry_column(compiled.columns, format_name)
    seps = separators(dataset, compiled.columns) if fmt.lists else []

    def chunks() -> Iterator[bytes]:
        with slot or nullcontext():  # claimed first: a client past its cap runs nothing
            if fmt.extension == "xlsx":
                total = int(engine.scalar(compiled.count_sql, compiled.count_params) or 0)
                rows = max(total - compiled.offset, 0)
                check_rows(rows if compiled.limit is None else min(rows, compiled.limit))
            with engine.stream(compiled.sql, compiled.params) as reader:
                context = ExportContext(
                    columns=compiled.columns,
                    headers=_headers(dataset, names, options.use_labels and fmt.labels),
                    zone=zone,
                    options=options,
                    schema=reader.schema,
                    dataset_id=dataset.dataset_id,
                    projection=projection,
                    published=dataset.modified,
                )
                batches = relisted(reader, seps, options.list_separator) if any(seps) else reader
                written = fmt.write(context, batches)
                first = next(written, b"") if fmt.buffered else b""
                yield b""  # the query is running (and a buffered file written): errors so far are raised
                yield first
                yield from written

    stream = chunks()
    next(stream)
    return Export(*export_file(dataset, format_name), stream)
