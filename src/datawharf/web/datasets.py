"""Catalog > Datasets: the list, and each dataset's page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from datawharf.web.rendering import BASE, BackofficeRoute, Visitor, render, signed_in

router = APIRouter(prefix=f"{BASE}/datasets", route_class=BackofficeRoute, include_in_schema=False)


@router.get("/")
def dataset_list(request: Request, current: Annotated[Visitor, Depends(signed_in)]) -> Response:
    return render(request, "datasets/list.html", current=current, section="datasets", datasets=[])
