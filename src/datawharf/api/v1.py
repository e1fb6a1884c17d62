"""The v1 APIs that harvesters and older scripts still call, read-only: the Dataset API 1.0
(``/api/datasets/1.0/search/``, ``/api/datasets/1.0/{id}/``), the Records API 1.0
(``/api/records/1.0/search/``, ``/api/records/1.0/download/``) and the classic portal export URL
``/explore/dataset/{id}/download/``.

The same data, access rules (public and restricted datasets, ``Authorization: apikey`` or ``?apikey=``),
query pools and export slots as the Explore API v2.1 (``api/explore.py``); the parameters are turned
into v2.1 requests and the answers reshaped by ``datawharf.explore.v1``. Errors leave in v1's own shape
(``api/v1_errors.py``). Both path forms (with and without the trailing slash) answer (``SlashAlias``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from datawharf.api.deps import get_session, get_settings, optional_api_key
from datawharf.api.explore import ClosingStreamingResponse, get_engine, stream_export
from datawharf.errors import InvalidInput
from datawharf.explore import access, v1
from datawharf.explore.v1_query import prefixed, refuse_disjunctive
from datawharf.exports import V1_FORMATS, ExportOptions
from datawharf.settings import Settings
from datawharf.store.models import ApiKey
from datawharf.store.query_engine import QueryEngine

# The v1 routes that query (admitted as the Explore catalog and records are); downloads are left out.
SEARCH_PREFIXES = ("/api/datasets/1.0/", "/api/records/1.0/search")

Q = Annotated[
    str | None,
    Query(description='v1 query language: words, "phrases", field:value, field >= value, AND/OR/NOT.'),
]
Rows = Annotated[int | None, Query(description=f"Results per page, 0 to {v1.MAX_ROWS} (10 by default).")]
Start = Annotated[int, Query(description=f"Results to skip; start + rows <= {v1.MAX_ROWS}.")]
Sort = Annotated[list[str] | None, Query(description="A field, descending; `-field` ascending. Repeatable.")]
Facet = Annotated[list[str] | None, Query(description="A field whose values to count in facet_groups.")]
Timezone = Annotated[str, Query(description="IANA timezone of dates in and out.")]
Lang = Annotated[str | None, Query(description="Accepted for compatibility: q is not language-stemmed.")]
Format = Annotated[str, Query(description="json (the only search format).")]
Distance = Annotated[
    list[str] | None,
    Query(alias="geofilter.distance", description="`lat,lon,meters`: records within that circle."),
]
Polygon = Annotated[
    list[str] | None,
    Query(alias="geofilter.polygon", description="`(lat,lon),(lat,lon),...`: not supported yet (400)."),
]
InteropMetas = Annotated[
    bool, Query(description="Accepted for compatibility: `interop_metas` is always given when set.")
]
Fields = Annotated[str | None, Query(description="The fields to return, comma-separated.")]
FILTERS = (
    "Facet filters: `refine.<field>=<value>` keeps the records (datasets) with that value, "
    "`exclude.<field>=<value>` drops them; repeatable."
)


def _dataset_param(dataset: list[str] | None, datasetid: list[str] | None) -> str:
    """The one dataset a records request names (``dataset`` or, as some pages write it, ``datasetid``)."""
    named = [*(dataset or []), *(datasetid or [])]
    if len(named) != 1:
        raise InvalidInput(
            "Name exactly one dataset: dataset=<dataset_id> (querying several at once is not supported)."
            if named
            else "The dataset parameter is missing: add dataset=<dataset_id>.",
            error_code="v1_dataset_parameter",
            detail={"dataset": named[:5]},
        )
    return named[0]


def _json_only(format: str) -> None:
    if format.lower() != "json":
        raise InvalidInput(
            f"format={format[:20]!r} is not served by a search; use format=json, or the download API "
            "(/api/records/1.0/download/?format=csv|json|geojson|xlsx|parquet...) for files.",
            error_code="v1_unsupported_format",
            detail={"format": format[:20]},
        )


def _search(
    request: Request,
    q: str | None,
    rows: int | None,
    start: int,
    sort: list[str] | None,
    facet: list[str] | None,
    timezone: str,
    lang: str | None,
    *,
    fields: str | None = None,
    distance: list[str] | None = None,
    polygon: list[str] | None = None,
) -> v1.V1Search:
    """The search the request's parameters make (``refine.*``/``exclude.*`` read from the query string,
    as their names are the fields')."""
    params = request.query_params.multi_items()
    refuse_disjunctive(params)
    return v1.V1Search(
        q=q,
        rows=rows,
        start=start,
        sort=sort or [],
        refine=prefixed(params, "refine"),
        exclude=prefixed(params, "exclude"),
        facet=facet or [],
        disjunctive=[name for name, value in prefixed(params, "disjunctive") if value.lower() == "true"],
        timezone=timezone,
        fields=fields,
        distance=distance or [],
        polygon=polygon or [],
        extra={"lang": lang} if lang else {},
    )


def datasets_search(
    request: Request,
    q: Q = None,
    interopmetas: InteropMetas = True,
    rows: Rows = None,
    start: Start = 0,
    sort: Sort = None,
    facet: Facet = None,
    timezone: Timezone = "UTC",
    lang: Lang = None,
    format: Format = "json",
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    api_key: ApiKey | None = Depends(optional_api_key),
    engine: QueryEngine = Depends(get_engine),
) -> dict[str, Any]:
    """The datasets the caller may read, searched over their metadata (`title:paris`,
    `records_count >= 1000`, `modified >= 2024`...)."""
    _json_only(format)
    search = _search(request, q, rows, start, sort, facet, timezone, lang)
    readable = access.readable_datasets(session, settings, api_key)
    return v1.search_datasets(engine, readable, search, settings.domain)


def dataset_lookup(
    dataset_id: str,
    interopmetas: InteropMetas = True,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    api_key: ApiKey | None = Depends(optional_api_key),
) -> dict[str, Any]:
    """One dataset: its metas, fields, features."""
    return v1.dataset_object(access.readable_dataset(session, settings, dataset_id, api_key), settings.domain)


def record_lookup(
    dataset_id: str,
    record_id: str,
    timezone: Timezone = "UTC",
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    api_key: ApiKey | None = Depends(optional_api_key),
    engine: QueryEngine = Depends(get_engine),
) -> dict[str, Any]:
    """One record by its `recordid` (the v2.1 `_id`)."""
    found = access.readable_dataset(session, settings, dataset_id, api_key)
    return v1.lookup_record(engine, found, record_id, timezone)


def records_search(
    request: Request,
    dataset: Annotated[list[str] | None, Query(description="The dataset_id to search.")] = None,
    datasetid: Annotated[list[str] | None, Query(description="Another name of `dataset`.")] = None,
    q: Q = None,
    rows: Rows = None,
    start: Start = 0,
    sort: Sort = None,
    facet: Facet = None,
    distance: Distance = None,
    polygon: Polygon = None,
    fields: Fields = None,
    timezone: Timezone = "UTC",
    lang: Lang = None,
    format: Format = "json",
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    api_key: ApiKey | None = Depends(optional_api_key),
    engine: QueryEngine = Depends(get_engine),
) -> dict[str, Any]:
    """A page of a dataset's records, each with its `recordid` (the v2.1 `_id`), and its facets."""
    _json_only(format)
    found = access.readable_dataset(session, settings, _dataset_param(dataset, datasetid), api_key)
    search = _search(
        request, q, rows, start, sort, facet, timezone, lang,
        fields=fields, distance=distance, polygon=polygon,
    )  # fmt: skip
    return v1.search_records(engine, found, search)


def _download(
    request: Request,
    settings: Settings,
    dataset_id: str,
    api_key: ApiKey | None,
    session: Session,
    *,
    format: str,
    q: str | None,
    sort: list[str] | None,
    fields: str | None,
    distance: list[str] | None,
    polygon: list[str] | None,
    timezone: str,
    csv_separator: str,
    use_labels_for_header: bool,
) -> Response:
    found = access.readable_dataset(session, settings, dataset_id, api_key)
    search = _search(
        request, q, None, 0, sort, None, timezone, None,
        fields=fields, distance=distance, polygon=polygon,
    )  # fmt: skip
    options = ExportOptions(delimiter=csv_separator, with_bom=False, use_labels=use_labels_for_header)
    shape = V1_FORMATS.get(format.lower())
    asked = v1.records_request(found, search, paged=False, with_ids=shape is not None and shape.ids)
    return stream_export(request, settings, found, asked, format.lower(), options, formats=V1_FORMATS)


CsvSeparator = Annotated[str, Query(description="csv: the field separator.")]
UseLabels = Annotated[bool, Query(description="csv, xlsx: field labels as column headers.")]
DownloadFormat = Annotated[
    str, Query(description="csv (the default), json, jsonl, geojson, shp, kml, fgb, gpx, parquet, xlsx.")
]


def records_download(
    request: Request,
    dataset: Annotated[list[str] | None, Query(description="The dataset_id to download.")] = None,
    datasetid: Annotated[list[str] | None, Query(description="Another name of `dataset`.")] = None,
    format: DownloadFormat = "csv",
    q: Q = None,
    sort: Sort = None,
    distance: Distance = None,
    polygon: Polygon = None,
    fields: Fields = None,
    timezone: Timezone = "UTC",
    csv_separator: CsvSeparator = ";",
    use_labels_for_header: UseLabels = False,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    api_key: ApiKey | None = Depends(optional_api_key),
) -> Response:
    """Every matching record, streamed as a file (no rows limit), with the search's filters."""
    return _download(
        request, settings, _dataset_param(dataset, datasetid), api_key, session, format=format, q=q,
        sort=sort, fields=fields, distance=distance, polygon=polygon, timezone=timezone,
        csv_separator=csv_separator, use_labels_for_header=use_labels_for_header,
    )  # fmt: skip


def portal_download(
    request: Request,
    dataset_id: str,
    format: DownloadFormat = "csv",
    q: Q = None,
    sort: Sort = None,
    distance: Distance = None,
    polygon: Polygon = None,
    fields: Fields = None,
    timezone: Timezone = "UTC",
    csv_separator: CsvSeparator = ";",
    use_labels_for_header: UseLabels = False,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    api_key: ApiKey | None = Depends(optional_api_key),
) -> Response:
    """The portal's export link: the dataset as a file, with the same filters."""
    return _download(
        request, settings, dataset_id, api_key, session, format=format, q=q, sort=sort, fields=fields,
        distance=distance, polygon=polygon, timezone=timezone, csv_separator=csv_separator,
        use_labels_for_header=use_labels_for_header,
    )  # fmt: skip


def build_router() -> APIRouter:
    """The v1 routes (the query pools they use are opened by the Explore router's lifespan)."""
    router = APIRouter(tags=["v1 APIs (Dataset API 1.0, Records API 1.0)"])
    # Downloads answer GET and HEAD (harvesters check their resource links with HEAD: headers, no file).
    streamed: dict[str, Any] = {"response_class": ClosingStreamingResponse, "status_code": 200}
    router.add_api_route(
        "/api/datasets/1.0/search/", datasets_search, methods=["GET"], summary="Search datasets (v1)",
        description=FILTERS,
    )  # fmt: skip
    router.add_api_route(
        "/api/datasets/1.0/{dataset_id}/", dataset_lookup, methods=["GET"], summary="Look a dataset up (v1)"
    )
    router.add_api_route(
        "/api/datasets/1.0/{dataset_id}/records/{record_id}/", record_lookup, methods=["GET"],
        summary="Look a record up (v1)",
    )  # fmt: skip
    router.add_api_route(
        "/api/records/1.0/search/", records_search, methods=["GET"], summary="Search records (v1)",
        description=FILTERS,
    )  # fmt: skip
    for path, download, summary in (
        ("/api/records/1.0/download/", records_download, "Download records (v1)"),
        (
            "/explore/dataset/{dataset_id}/download/",
            portal_download,
            "Download a dataset (portal export URL)",
        ),
    ):
        router.add_api_route(
            path, download, methods=["GET"], summary=summary, description=FILTERS, **streamed
        )
        # HEAD as a route of its own, out of the OpenAPI document (one operation id per operation).
        router.add_api_route(path, download, methods=["HEAD"], include_in_schema=False, **streamed)
    return router
