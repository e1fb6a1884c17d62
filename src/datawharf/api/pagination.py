"""The reference pagination: ``limit`` (default 20, at most 1000) and ``offset`` in,
``total_count``/``next``/``previous``/``results`` out, with absolute links."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel, Field


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


Item = TypeVar("Item")


class Paginated(BaseModel, Generic[Item]):
    """The reference ``PaginatedResults`` of ``Item``: the route's ``response_model``."""

    total_count: int = Field(description="How many results there are in all.")
    next: str | None = Field(description="The next page's absolute URL, if any.")
    previous: str | None = Field(description="The previous page's absolute URL, if any.")
    results: list[Item]


def page_params(
    limit: int = Query(20, ge=0, le=1000, description="Results per page (0 for the count only)."),
    # At most a SQL BIGINT: the databases cannot skip more rows than they can count.
    offset: int = Query(0, ge=0, le=2**63 - 1, description="Results to skip."),
) -> Page:
    return Page(limit=limit, offset=offset)


def paginated(request: Request, page: Page, total: int, results: list[Any]) -> dict[str, Any]:
    next_url = None
    if page.limit and page.offset + page.limit < total:
        next_url = str(request.url.include_query_params(limit=page.limit, offset=page.offset + page.limit))
    previous_url = None
    if page.offset > 0:
        previous_offset = max(page.offset - (page.limit or page.offset), 0)
        previous_url = str(request.url.include_query_params(limit=page.limit, offset=previous_offset))
    return {"total_count": total, "next": next_url, "previous": previous_url, "results": results}


PageDep = Annotated[Page, Depends(page_params)]
