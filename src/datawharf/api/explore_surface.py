"""The rest of the Explore API v2.1 surface, beside the catalog, records and exports of ``api/explore.py``:
facets (of the catalog and of a dataset).

Added to the Explore router by ``explore.build_router`` (``add_routes``); each route calls one service of
``datawharf.explore`` and runs its queries on the query pool, as records do.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from datawharf.api.deps import get_session, get_settings, optional_api_key
from datawharf.explore import access, facets
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
        request = QueryRequest(
            where=where or [], refine=refine or [], exclude=exclude or [], timezone=timezone
        )
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
        request = QueryRequest(
            where=where or [], refine=refine or [], exclude=exclude or [], timezone=timezone
        )
        return facets.dataset_facets(engine, dataset, request, facet or [])

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
