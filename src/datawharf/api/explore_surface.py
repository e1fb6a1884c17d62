"""The rest of the Explore API v2.1 surface, beside the catalog, records and exports of ``api/explore.py``:
the root's links, facets (of the catalog and of a dataset), one record by its id, a dataset's export
formats and attachments; and the HATEOAS ``_links`` that ``include_links=true`` adds.

Added to the Explore router by ``explore.build_router`` (``add_routes``); each route calls one service of
``datawharf.explore`` and runs its queries on the query pool, as records do.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from datawharf.api.deps import get_session, get_settings, optional_api_key
from datawharf.explore import access, facets, records
from datawharf.exports import dataset_formats
from datawharf.odsql import QueryRequest
from datawharf.settings import Settings
from datawharf.store.models import ApiKey
from datawharf.store.query_engine import QueryEngine

FACET = (
    'A field to enumerate: `city`, or `facet(name="city", sort="-count", limit=10, disjunctive=true)`; '
    "repeatable. Without it: the fields annotated `facet` (the catalog: its default facets)."
)
Facet = Annotated[list[str] | None, Query(description=FACET)]
Where = Annotated[list[str] | None, Query(description="ODSQL condition; repeat the parameter to and them.")]
Refine = Annotated[list[str] | None, Query(description="Facet filter `field:value`; repeatable.")]
Exclude = Annotated[list[str] | None, Query(description="Negative facet filter `field:value`; repeatable.")]
Timezone = Annotated[str, Query(description="IANA timezone of dates in and out.")]


def api_root(request: Request) -> str:
    """The absolute URL of ``/api/explore/v2.1`` as this request reached it (links are absolute)."""
    return str(request.url_for("explore_root")).rstrip("/")


def link(href: str, rel: str) -> dict[str, str]:
    return {"href": href, "rel": rel}


def dataset_url(request: Request, dataset_id: str) -> str:
    return f"{api_root(request)}/catalog/datasets/{dataset_id}"


def record_links(request: Request, dataset_id: str) -> Any:
    """record id -> the record's ``_links`` (itself and its dataset)."""
    base = dataset_url(request, dataset_id)
    return lambda record_id: [link(f"{base}/records/{record_id}", "self"), link(base, "dataset")]


def page_links(request: Request, total: int, offset: int, limit: int) -> list[dict[str, str]]:
    """A page's ``_links``: itself, the first, the next when there is one, the last."""
    url = request.url
    shown = [link(str(url), "self"), link(str(url.include_query_params(offset=0)), "first")]
    if limit and offset + limit < total:
        shown.append(link(str(url.include_query_params(offset=offset + limit)), "next"))
    if limit:
        last = max(total - 1, 0) // limit * limit
        shown.append(link(str(url.include_query_params(offset=last)), "last"))
    return shown


def dataset_links(request: Request, dataset_id: str) -> list[dict[str, str]]:
    return [
        link(dataset_url(request, dataset_id), "self"),
        link(f"{api_root(request)}/catalog/datasets", "catalog"),
    ]


def with_catalog_links(request: Request, body: dict[str, Any], offset: int, limit: int) -> dict[str, Any]:
    """The catalog page with its ``_links``, and each dataset object with its own."""
    results = [
        {"_links": dataset_links(request, r["dataset_id"]), **r} if "dataset_id" in r and "metas" in r else r
        for r in body["results"]
    ]
    return {"_links": page_links(request, body["total_count"], offset, limit), **body, "results": results}


APP_METAS: dict[str, dict[str, Any]] = {"explore": {}}
"""The application metadata ``include_app_metas=true`` adds to a dataset's ``metas``: Opendatasoft's
``explore`` template holds what the portal computes (``download_count``, ``api_call_count``,
``popularity_score``...); datawharf counts none of them, so it is empty."""


def with_app_metas(result: dict[str, Any]) -> dict[str, Any]:
    """A dataset object with the application metadata added to its ``metas`` (other results as they are)."""
    metas = result.get("metas")
    if not isinstance(metas, dict):
        return result
    return {**result, "metas": {**APP_METAS, **metas}}


def _filters(
    where: list[str] | None, refine: list[str] | None, exclude: list[str] | None, timezone: str
) -> QueryRequest:
    return QueryRequest(where=where or [], refine=refine or [], exclude=exclude or [], timezone=timezone)


def add_routes(router: APIRouter, get_engine: Any) -> None:
    """Register the routes on the Explore router; ``get_engine`` is its query-pool dependency."""

    def catalog_facets(
        facet: Facet = None,
        refine: Refine = None,
        exclude: Exclude = None,
        where: Where = None,
        timezone: Timezone = "UTC",
        session: Session = Depends(get_session),
        settings: Settings = Depends(get_settings),
        api_key: ApiKey | None = Depends(optional_api_key),
        engine: QueryEngine = Depends(get_engine),
    ) -> dict[str, Any]:
        """Each catalog facet's values with how many datasets (of those the filters keep) hold them."""
        datasets = access.readable_datasets(session, settings, api_key)
        request = _filters(where, refine, exclude, timezone)
        return facets.catalog_facets(engine, datasets, request, facet or [])

    def dataset_facets(
        dataset_id: str,
        facet: Facet = None,
        refine: Refine = None,
        exclude: Exclude = None,
        where: Where = None,
        timezone: Timezone = "UTC",
        session: Session = Depends(get_session),
        settings: Settings = Depends(get_settings),
        api_key: ApiKey | None = Depends(optional_api_key),
        engine: QueryEngine = Depends(get_engine),
    ) -> dict[str, Any]:
        """Each facet's values with how many records (of those the filters keep) hold them."""
        dataset = access.readable_dataset(session, settings, dataset_id, api_key)
        request = _filters(where, refine, exclude, timezone)
        return facets.dataset_facets(engine, dataset, request, facet or [])

    def root(request: Request) -> dict[str, Any]:
        """Links to what this API serves."""
        base = api_root(request)
        return {"links": [link(base, "self"), link(f"{base}/catalog/datasets", "catalog")]}

    def catalog_root(request: Request) -> dict[str, Any]:
        """Links to what the catalog serves: Opendatasoft's JavaScript client asks for them
        (``fromCatalog().itself()``) though the v2.1 OpenAPI leaves this path out."""
        base = f"{api_root(request)}/catalog"
        return {
            "links": [
                link(base, "self"),
                link(f"{base}/datasets", "datasets"),
                link(f"{base}/facets", "facets"),
                link(f"{base}/exports", "exports"),
            ]
        }

    def get_record(
        dataset_id: str,
        record_id: str,
        select: Annotated[str | None, Query(description="ODSQL select: the fields to return.")] = None,
        timezone: Timezone = "UTC",
        session: Session = Depends(get_session),
        settings: Settings = Depends(get_settings),
        api_key: ApiKey | None = Depends(optional_api_key),
        engine: QueryEngine = Depends(get_engine),
    ) -> dict[str, Any]:
        """The record whose `_id` is `record_id` (as records return it with `include_links=true`)."""
        dataset = access.readable_dataset(session, settings, dataset_id, api_key)
        request = QueryRequest(select=select, timezone=timezone)
        return records.get_record(engine, dataset, record_id, request)

    def list_exports(
        request: Request,
        dataset_id: str,
        session: Session = Depends(get_session),
        settings: Settings = Depends(get_settings),
        api_key: ApiKey | None = Depends(optional_api_key),
    ) -> dict[str, Any]:
        """`{"links": [{"href": ".../exports/csv", "rel": "csv"}...]}`: the formats it exports to."""
        dataset = access.readable_dataset(session, settings, dataset_id, api_key)
        base = f"{dataset_url(request, dataset_id)}/exports"
        return {"links": [link(base, "self"), *(link(f"{base}/{f}", f) for f in dataset_formats(dataset))]}

    def list_attachments(
        dataset_id: str,
        session: Session = Depends(get_session),
        settings: Settings = Depends(get_settings),
        api_key: ApiKey | None = Depends(optional_api_key),
    ) -> dict[str, Any]:
        """The dataset's attachments: none (datawharf keeps no attachment files)."""
        access.readable_dataset(session, settings, dataset_id, api_key)
        return {"links": [], "attachments": []}

    router.add_api_route(
        "/", root, methods=["GET"], name="explore_root", operation_id="getApiRoot", summary="API links"
    )
    router.add_api_route(
        "/catalog", catalog_root, methods=["GET"], operation_id="getCatalog", summary="Catalog links"
    )
    router.add_api_route(
        "/catalog/datasets/{dataset_id}/records/{record_id}",
        get_record,
        methods=["GET"],
        operation_id="getRecord",
        summary="Read a dataset record",
    )
    router.add_api_route(
        "/catalog/datasets/{dataset_id}/exports",
        list_exports,
        methods=["GET"],
        operation_id="listDatasetExportFormats",
        summary="List export formats",
    )
    router.add_api_route(
        "/catalog/datasets/{dataset_id}/attachments",
        list_attachments,
        methods=["GET"],
        operation_id="getDatasetAttachments",
        summary="List dataset attachments",
    )
    router.add_api_route(
        "/catalog/facets",
        catalog_facets,
        methods=["GET"],
        operation_id="getDatasetsFacets",
        summary="List facet values",
    )
    router.add_api_route(
        "/catalog/datasets/{dataset_id}/facets",
        dataset_facets,
        methods=["GET"],
        operation_id="getRecordsFacets",
        summary="List dataset facets",
    )
