"""Catalog > Connections: list, add (IAM role or signature v4), edit, validate, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from datawharf.web.rendering import BASE, BackofficeRoute, Visitor, render, signed_in

router = APIRouter(prefix=f"{BASE}/connections", route_class=BackofficeRoute, include_in_schema=False)


@router.get("/")
def connection_list(request: Request, current: Annotated[Visitor, Depends(signed_in)]) -> Response:
    return render(request, "connections/list.html", current=current, section="connections", connections=[])
