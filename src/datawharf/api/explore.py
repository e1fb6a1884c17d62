"""The Explore API v2.1, ``/api/explore/v2.1/``: the catalog, a dataset, its records and its exports.

Read-only and public for published, unrestricted datasets; restricted ones need a key with
``explore_restricted_dataset`` (``Authorization: apikey <key>`` or ``?apikey=``). The router owns two
query engines (pools of DuckDB connections): ``app.state.query_engine`` for records and the catalog,
``app.state.export_engine`` for exports, so downloads, which last as long as their clients read, never
hold what a query needs. Its lifespan, merged into the app's, opens both and closes them on shutdown.
Exports are capped per client address (``app.state.export_slots``) and a stream the client stops
reading is ended after ``DATAWHARF_SEND_TIMEOUT`` seconds (``ClosingStreamingResponse``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.orm import Session
from starlette.types import Message, Receive, Scope, Send

from datawharf.api import explore_surface
from datawharf.api.deps import get_session, get_settings, optional_api_key
from datawharf.datasets.catalog import PublishedDataset
from datawharf.errors import InvalidInput
from datawharf.explore import access, cache, catalog, records
from datawharf.exports import (
    FORMATS,
    Export,
    ExportOptions,
    ExportSlots,
    Format,
    export_file,
    gzipped,
    open_export,
)
from datawharf.exports.catalog import (
    CatalogContext,
    catalog_formats,
    check_include_exports,
    check_lang,
    open_catalog_export,
)
from datawharf.odsql import QueryRequest
from datawharf.settings import Settings
from datawharf.store.models import ApiKey
from datawharf.store.query_engine import QueryEngine, process_temp_directory, remove_temp_directory

PREFIX = "/api/explore/v2.1"
log = logging.getLogger(__name__)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    temp = process_temp_directory(settings.home)  # this process's own, removed at shutdown
    engine = QueryEngine(
        pool_size=settings.query_pool_size,
        memory_limit=settings.query_memory_limit,
        temp_directory=temp / "query",
        timeout=settings.query_timeout,
    )
    exports = QueryEngine(
        pool_size=settings.export_pool_size,
        memory_limit=settings.query_memory_limit,
        temp_directory=temp / "export",
        timeout=settings.query_timeout,
        busy_code="export_engine_busy",
    )
    app.state.query_engine = engine
    app.state.export_engine = exports
    app.state.export_slots = ExportSlots(settings.export_per_client)
    try:
        yield
    finally:
        engine.close()
        exports.close()
        remove_temp_directory(temp)


def get_engine(request: Request) -> QueryEngine:
    return request.app.state.query_engine


def client_address(request: Request) -> str:
    """The address the connection comes from (a proxy's, behind one): what export slots are counted by."""
    return request.client.host if request.client else "unknown"


async def get_response_cache(request: Request) -> cache.ResponseCache:  # async: no thread for this
    return cache.app_cache(request.app.state, request.app.state.settings.explore_cache_mb)


class SendTimedOut(Exception):
    """The client took nothing of the response for ``send_timeout`` seconds."""


class ClosingStreamingResponse(StreamingResponse):
    """A streaming response that ends a stalled client, and closes its iterator however it ends.

    An export's iterator holds a pooled DuckDB connection (and the client's export slot) until it is
    closed. A client that stops reading fills the socket's buffers, and then the server's ``send`` waits
    forever (uvicorn's has no timeout): past ``send_timeout`` seconds without one send completing, the
    response is abandoned, the connection closed, and the iterator closed. Starlette drops the iterator
    when a client goes away mid-download, but exception tracebacks keep it in reference cycles, so only
    the cyclic garbage collector would give the connection back, some time later. Closing it here (in a
    worker thread: closing runs DuckDB code) returns it at once.
    """

    def __init__(self, content: Iterator[bytes], *, send_timeout: float | None = None, **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._source = content
        self.send_timeout = send_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        timeout = self.send_timeout

        async def timed_send(message: Message) -> None:
            with anyio.move_on_after(timeout) as waited:
                await send(message)
            if waited.cancelled_caught:
                raise SendTimedOut

        try:
            await super().__call__(scope, receive, send if timeout is None else timed_send)
        except SendTimedOut:
            client = scope.get("client") or ("unknown",)
            log.warning("a stream to %s took nothing for %s s and was ended", client[0], timeout)
        finally:
            close = getattr(self._source, "close", None)
            if close is not None:
                await anyio.to_thread.run_sync(close)


_ODSQL = {
    "select": "ODSQL select: fields, `*`, expressions with `as` aliases, aggregates.",
    "where": "ODSQL condition; repeat the parameter to and them.",
    "group_by": "ODSQL group_by: fields, range(), date_format().",
    "order_by": "ODSQL order: expressions or aliases, `asc`/`desc`, comma-separated.",
    "refine": "Facet filter `field:value`; repeatable.",
    "exclude": "Negative facet filter `field:value`; repeatable.",
}


def _query(
    select: Annotated[str | None, Query(description=_ODSQL["select"])] = None,
    where: Annotated[list[str] | None, Query(description=_ODSQL["where"])] = None,
    group_by: Annotated[
        str | None, Query(description="ODSQL group_by: fields, range(), date_format().")
    ] = None,
    order_by: Annotated[str | None, Query(description=_ODSQL["order_by"])] = None,
    refine: Annotated[list[str] | None, Query(description=_ODSQL["refine"])] = None,
    exclude: Annotated[list[str] | None, Query(description=_ODSQL["exclude"])] = None,
    timezone: Annotated[str, Query(description="IANA timezone of dates in and out.")] = "UTC",
) -> dict[str, Any]:
    return {
        "select": select,
        "where": where or [],
        "group_by": group_by,
        "order_by": order_by,
        "refine": refine or [],
        "exclude": exclude or [],
        "timezone": timezone,
    }


def build_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["Explore API v2.1"], lifespan=_lifespan)
    router.add_api_route(
        "/catalog/datasets", list_datasets, methods=["GET"], operation_id="getDatasets", summary="Datasets"
    )
    router.add_api_route(
        "/catalog/datasets/{dataset_id}",
        get_dataset,
        methods=["GET"],
        operation_id="getDataset",
        summary="Dataset information",
    )
    router.add_api_route(
        "/catalog/datasets/{dataset_id}/records",
        get_records,
        methods=["GET"],
        operation_id="getRecords",
        summary="Query dataset records",
    )
    router.add_api_route(
        "/catalog/datasets/{dataset_id}/exports/{format}",
        export_records,
        methods=["GET"],
        operation_id="exportRecords",
        summary="Export a dataset",
        response_class=ClosingStreamingResponse,
        # FastAPI reads the default status from the response class's signature, which ours hides.
        status_code=200,
    )
    router.add_api_route(
        "/catalog/exports",
        list_catalog_exports,
        methods=["GET"],
        operation_id="listExportFormats",
        summary="List catalog export formats",
    )
    router.add_api_route(
        "/catalog/exports/{format}",
        export_catalog,
        methods=["GET"],
        operation_id="exportDatasets",
        summary="Export the catalog",
        response_class=ClosingStreamingResponse,
        status_code=200,
    )
    explore_surface.add_routes(router, get_engine)
    return router


Links = Annotated[bool, Query(description="Add HATEOAS `_links` to the response.")]
AppMetas = Annotated[
    bool,
    Query(
        description="Add the application metadata, `metas.explore` (what the portal computes: download and "
        "API call counts...; empty here, as datawharf counts none)."
    ),
]


def list_datasets(
    request: Request,
    select: Annotated[str | None, Query(description=_ODSQL["select"])] = None,
    where: Annotated[list[str] | None, Query(description=_ODSQL["where"])] = None,
    order_by: Annotated[str | None, Query(description=_ODSQL["order_by"])] = None,
    group_by: Annotated[str | None, Query(description=_ODSQL["group_by"])] = None,
    limit: Annotated[int | None, Query(description="Datasets per page, 0 to 100 (10 by default).")] = None,
    offset: Annotated[int, Query(description="Datasets to skip; offset + limit <= 10000.")] = 0,
    refine: Annotated[list[str] | None, Query(description=_ODSQL["refine"])] = None,
    exclude: Annotated[list[str] | None, Query(description=_ODSQL["exclude"])] = None,
    timezone: Annotated[str, Query(description="IANA timezone of dates in and out.")] = "UTC",
    include_links: Links = False,
    include_app_metas: AppMetas = False,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    api_key: ApiKey | None = Depends(optional_api_key),
    engine: QueryEngine = Depends(get_engine),
) -> dict[str, Any]:
    """Published datasets the caller may read, filtered with ODSQL over their metadata (`title`,
    `description`, `keyword`, `modified`, `records_count`, `features`...); `select` picks what each
    result holds, `group_by` aggregates them."""
    datasets = access.readable_datasets(session, settings, api_key)
    query = QueryRequest(
        select=select,
        where=where or [],
        group_by=group_by,
        order_by=order_by,
        limit=limit,
        offset=offset,
        refine=refine or [],
        exclude=exclude or [],
        timezone=timezone,
    )
    body = catalog.query_catalog(engine, datasets, query)
    if include_app_metas:
        body = {**body, "results": [explore_surface.with_app_metas(r) for r in body["results"]]}
    if include_links:
        return explore_surface.with_catalog_links(request, body, offset, 10 if limit is None else limit)
    return body


def get_dataset(
    request: Request,
    dataset_id: str,
    include_links: Links = False,
    include_app_metas: AppMetas = False,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    api_key: ApiKey | None = Depends(optional_api_key),
) -> dict[str, Any]:
    """A dataset's metadata and its fields with their types."""
    shown = catalog.public(access.readable_dataset(session, settings, dataset_id, api_key))
    if include_app_metas:
        shown = explore_surface.with_app_metas(shown)
    return {"_links": explore_surface.dataset_links(request, dataset_id), **shown} if include_links else shown


def get_records(
    request: Request,
    dataset_id: str,
    query: dict[str, Any] = Depends(_query),
    limit: Annotated[
        int | None, Query(description="Records per page, 0 to 100 (10 by default; 20000 with group_by).")
    ] = None,
    offset: Annotated[
        int, Query(description="Records to skip; offset + limit <= 10000 (20000 with group_by).")
    ] = 0,
    include_links: Annotated[
        bool, Query(description="Add each record's `_id` and `_links`, and the page's `_links`.")
    ] = False,
    include_app_metas: Annotated[
        bool, Query(description="Accepted as the reference declares it; records carry no metadata.")
    ] = False,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    api_key: ApiKey | None = Depends(optional_api_key),
    engine: QueryEngine = Depends(get_engine),
    responses: cache.ResponseCache = Depends(get_response_cache),
) -> Response:
    """`{"total_count": N, "results": [...]}`, each record a flat object of the selected columns."""
    dataset = access.readable_dataset(session, settings, dataset_id, api_key)
    asked = QueryRequest(limit=limit, offset=offset, **query)
    if not include_links:  # the common case, and the one portal widgets repeat: from the response cache
        return Response(cache.records_body(responses, engine, dataset, asked), media_type="application/json")
    links = explore_surface.record_links(request, dataset_id)
    page = records.query_records(engine, dataset, asked, links=links)
    shown = explore_surface.page_links(request, page.total_count, page.offset, page.limit)
    return JSONResponse(jsonable_encoder({"_links": shown, **page.body()}))


def export_records(
    request: Request,
    dataset_id: str,
    format: str,
    query: dict[str, Any] = Depends(_query),
    limit: Annotated[int | None, Query(description="Records to export; -1 or absent: all of them.")] = None,
    offset: Annotated[int, Query(description="Records to skip.")] = 0,
    delimiter: Annotated[str, Query(description="csv: the field separator.")] = ";",
    with_bom: Annotated[bool, Query(description="csv: start with a UTF-8 byte order mark.")] = True,
    use_labels: Annotated[bool, Query(description="csv, xlsx: field labels as column headers.")] = False,
    quote_all: Annotated[bool, Query(description="csv: quote every value.")] = False,
    list_separator: Annotated[
        str, Query(description="csv, xlsx: joins the values of a multivalued field.")
    ] = ",",
    epsg: Annotated[
        int, Query(description="geojson, shp, fgb: the EPSG code to project geometries into.")
    ] = 4326,
    parquet_compression: Annotated[
        str, Query(description="parquet: the compression, snappy (default) or zstd.")
    ] = "snappy",
    compressed: Annotated[bool, Query(description="Compress the file with gzip (`<name>.gz`).")] = False,
    name_field: Annotated[str | None, Query(description="gpx: not supported (400).")] = None,
    description_field_list: Annotated[str | None, Query(description="gpx: not supported (400).")] = None,
    use_extension: Annotated[
        bool, Query(description="gpx: the other columns in `<extensions>` (true, the only way here).")
    ] = True,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    api_key: ApiKey | None = Depends(optional_api_key),
    responses: cache.ResponseCache = Depends(get_response_cache),
) -> Response:
    """Every matching record (no limit unless asked), streamed: csv, json, jsonl, geojson, parquet, xlsx.
    One client address streams at most `DATAWHARF_EXPORT_PER_CLIENT` exports at once (429 past it)."""
    dataset = access.readable_dataset(session, settings, dataset_id, api_key)
    refused = {
        "name_field": name_field is not None,
        "description_field_list": description_field_list is not None,
    }
    refused["use_extension"] = not use_extension
    if any(refused.values()):
        raise InvalidInput(
            "GPX exports write each waypoint's other columns in <extensions> (GDAL's GPX writer); "
            f"{', '.join(k for k, v in refused.items() if v)} cannot be honoured. Leave them out.",
            error_code="gpx_option_not_supported",
            detail={k: ["not supported"] for k, v in refused.items() if v},
        )
    options = ExportOptions(
        delimiter=delimiter,
        with_bom=with_bom,
        use_labels=use_labels,
        quote_all=quote_all,
        list_separator=list_separator,
        epsg=epsg,
        parquet_compression=parquet_compression,
    )
    asked = QueryRequest(limit=limit, offset=offset, **query)
    media_type, filename = export_file(dataset, format, compressed=compressed)
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    state = request.app.state

    def start() -> Iterator[bytes]:
        export = open_export(
            state.export_engine,
            dataset,
            asked,
            format,
            options,
            slot=state.export_slots.claim(client_address(request)),
        )
        return gzipped(export.chunks) if compressed else export.chunks

    small = cache.small_export_body(responses, dataset, asked, (format, options, compressed), start)
    if small is not None:
        return Response(small, media_type=media_type, headers=headers)
    return ClosingStreamingResponse(
        start(), send_timeout=settings.send_timeout, media_type=media_type, headers=headers
    )


def stream_export(
    request: Request,
    settings: Settings,
    dataset: PublishedDataset,
    asked: QueryRequest,
    format: str,
    options: ExportOptions,
    *,
    compressed: bool = False,
    formats: Mapping[str, Format] = FORMATS,
) -> Response:
    """An export of ``dataset`` on the export pool, streamed as an attachment within the client's export
    slots, never cached: what the v1 download URLs answer (``formats=V1_FORMATS``)."""
    state = request.app.state
    export = open_export(
        state.export_engine,
        dataset,
        asked,
        format,
        options,
        slot=state.export_slots.claim(client_address(request)),
        formats=formats,
    )
    return _streamed(request, export, settings, compressed=compressed)


def _streamed(request: Request, export: Export, settings: Settings, *, compressed: bool = False) -> Response:
    """The export as an attachment, gzipped as it streams with ``compressed``. A ``HEAD`` (a harvester
    checking its resource links) gets the headers once the query has started, and the query is ended at
    once: no file is produced for nobody."""
    chunks, media_type, filename = export.chunks, export.media_type, export.filename
    if compressed:
        chunks, media_type, filename = gzipped(chunks), "application/gzip", f"{filename}.gz"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if request.method == "HEAD":
        close = getattr(chunks, "close", None)
        if close is not None:
            close()  # gives the connection and the slot back
        return Response(media_type=media_type, headers=headers)
    return ClosingStreamingResponse(
        chunks, send_timeout=settings.send_timeout, media_type=media_type, headers=headers
    )


Lang = Annotated[
    str | None,
    Query(description="The language of the texts (en, fr, de...): RDF literals' tags, the RSS language."),
]


def list_catalog_exports(request: Request) -> dict[str, Any]:
    """`{"links": [{"href": ".../catalog/exports/csv", "rel": "csv"}...]}`: the catalog's export formats."""
    base = f"{explore_surface.api_root(request)}/catalog/exports"
    links = [explore_surface.link(f"{base}/{f}", f) for f in catalog_formats()]
    return {"links": [explore_surface.link(base, "self"), *links]}


def export_catalog(
    request: Request,
    format: str,
    select: Annotated[str | None, Query(description="Not supported on catalog exports (400).")] = None,
    where: Annotated[list[str] | None, Query(description=_ODSQL["where"])] = None,
    order_by: Annotated[str | None, Query(description=_ODSQL["order_by"])] = None,
    group_by: Annotated[str | None, Query(description="Not supported on catalog exports (400).")] = None,
    limit: Annotated[int | None, Query(description="Datasets to export; -1 or absent: all of them.")] = None,
    offset: Annotated[int, Query(description="Datasets to skip.")] = 0,
    refine: Annotated[list[str] | None, Query(description=_ODSQL["refine"])] = None,
    exclude: Annotated[list[str] | None, Query(description=_ODSQL["exclude"])] = None,
    lang: Lang = None,
    timezone: Annotated[str, Query(description="IANA timezone of dates in and out.")] = "UTC",
    delimiter: Annotated[str, Query(description="csv: the field separator.")] = ";",
    list_separator: Annotated[str, Query(description="csv, xlsx: joins a list's values.")] = ",",
    quote_all: Annotated[bool, Query(description="csv: quote every value.")] = False,
    with_bom: Annotated[bool, Query(description="csv: start with a UTF-8 byte order mark.")] = True,
    include_exports: Annotated[
        str | None, Query(description="DCAT, data.json: the distributions listed, e.g. `csv,json`.")
    ] = None,
    use_labels_in_exports: Annotated[
        bool, Query(description="DCAT, data.json: csv/xlsx distributions with field labels as headers.")
    ] = True,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    api_key: ApiKey | None = Depends(optional_api_key),
    engine: QueryEngine = Depends(get_engine),
) -> Response:
    """The datasets the caller may read, filtered as `catalog/datasets`, as one file: csv, json, xlsx,
    rss, rdf, ttl, dcat (DCAT-AP) and its profiles, dublin_core, data.json. Counted against the
    client's export slots."""
    if select is not None or group_by is not None:
        raise InvalidInput(
            "Catalog exports hold whole datasets: select and group_by are not supported there. Use "
            "catalog/datasets with select or group_by instead.",
            error_code="catalog_export_select_not_supported",
            detail={"select": select is not None, "group_by": group_by is not None},
        )
    context = CatalogContext(
        api_root=explore_surface.api_root(request),
        options=ExportOptions(
            delimiter=delimiter, with_bom=with_bom, quote_all=quote_all, list_separator=list_separator
        ),
        lang=check_lang(lang),
        include_exports=check_include_exports(include_exports),
        use_labels_in_exports=use_labels_in_exports,
    )
    query = QueryRequest(
        where=where or [],
        order_by=order_by,
        limit=limit,
        offset=offset,
        refine=refine or [],
        exclude=exclude or [],
        timezone=timezone,
    )
    export = open_catalog_export(
        engine,
        access.readable_datasets(session, settings, api_key),
        query,
        format,
        context,
        slot=request.app.state.export_slots.claim(client_address(request)),
    )
    return _streamed(request, export, settings)
