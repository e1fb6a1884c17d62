"""``/datasource_connections/``: the reference connection routes, plus ours: ``validate`` and ``policy``.

The routes only translate HTTP to the connections service and back; every rule lives in the service.
Responses are ``ConnectionPublic``, which cannot carry a secret.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from datawharf.api.deps import get_session, get_settings, require
from datawharf.api.pagination import Page, Paginated, page_params, paginated
from datawharf.connections import service
from datawharf.connections.schemas import (
    ConnectionCreate,
    ConnectionPublic,
    ConnectionUpdate,
    PolicyDocuments,
)
from datawharf.settings import Settings
from datawharf.store.models import ApiKey

router = APIRouter(prefix="/datasource_connections", tags=["Datasources connections"])

_admin = require("edit_domain")


@router.get(
    "/",
    operation_id="list-connections",
    summary="List connections",
    response_model=Paginated[ConnectionPublic],
)
def list_connections(
    request: Request,
    page: Page = Depends(page_params),
    sort: str = Query(
        "created_at", description="created_at, updated_at, type or dataset_count; '-' reverses."
    ),
    session: Session = Depends(get_session),
    _key: ApiKey = Depends(_admin),
) -> dict[str, Any]:
    total, rows = service.list_connections(session, limit=page.limit, offset=page.offset, sort=sort)
    return paginated(request, page, total, [service.to_public(session, row) for row in rows])


@router.post("/", status_code=201, operation_id="create-connection", summary="Create connection")
def create_connection(
    body: ConnectionCreate,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    _key: ApiKey = Depends(_admin),
) -> ConnectionPublic:
    connection = service.create_connection(session, settings, body)
    return service.to_public(session, connection)


@router.get("/{connection_uid}/", operation_id="retrieve-connection", summary="Retrieve Connection")
def retrieve_connection(
    connection_uid: str, session: Session = Depends(get_session), _key: ApiKey = Depends(_admin)
) -> ConnectionPublic:
    return service.to_public(session, service.get_connection(session, connection_uid))


@router.put("/{connection_uid}/", operation_id="update-connection", summary="Update Connection")
def update_connection(
    connection_uid: str,
    body: ConnectionUpdate,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    _key: ApiKey = Depends(_admin),
) -> ConnectionPublic:
    connection = service.update_connection(session, settings, connection_uid, body)
    return service.to_public(session, connection)


@router.delete(
    "/{connection_uid}/", status_code=204, operation_id="delete-connection", summary="Delete Connection"
)
def delete_connection(
    connection_uid: str, session: Session = Depends(get_session), _key: ApiKey = Depends(_admin)
) -> Response:
    service.delete_connection(session, connection_uid)
    return Response(status_code=204)


@router.post(
    "/{connection_uid}/validate/",
    operation_id="validate-connection",
    summary="Validate Connection (datawharf)",
    description="Makes real signed requests now and stores the report in `validation`. With `url` "
    "(absolute, or relative to the connection's URL), checks that object or prefix instead.",
)
def validate_connection(
    connection_uid: str,
    url: str | None = Query(None, description="An object or prefix to check with the connection."),
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
    _key: ApiKey = Depends(_admin),
) -> ConnectionPublic:
    connection = service.validate_connection(session, settings, connection_uid, url)
    return service.to_public(session, connection)


@router.get(
    "/{connection_uid}/policy/",
    operation_id="get-connection-policy",
    summary="IAM policy documents (datawharf)",
    description="The trust policy and a least-privilege permission policy for `url` (an object, or a "
    "prefix ending with '/').",
)
def connection_policy(
    connection_uid: str,
    url: str = Query(..., description="The object or prefix the role must read."),
    session: Session = Depends(get_session),
    _key: ApiKey = Depends(_admin),
) -> PolicyDocuments:
    return service.policy_documents(session, connection_uid, url)
