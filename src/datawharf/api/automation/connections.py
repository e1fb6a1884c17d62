"""``/datasource_connections/``: the reference connection routes, plus ours: ``validate`` and ``policy``.

The routes only translate HTTP to the connections service and back; every rule lives in the service.
Responses are ``ConnectionPublic``, which cannot carry a secret.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from datawharf.api.deps import EditDomain, SessionDep, SettingsDep
from datawharf.api.pagination import PageDep, Paginated, paginated
from datawharf.connections import service
from datawharf.connections.schemas import (
    ConnectionCreate,
    ConnectionPublic,
    ConnectionUpdate,
    PolicyDocuments,
)

router = APIRouter(prefix="/datasource_connections", tags=["Datasources connections"])


@router.get(
    "/",
    operation_id="list-connections",
    summary="List connections",
    response_model=Paginated[ConnectionPublic],
)
def list_connections(
    request: Request,
    page: PageDep,
    session: SessionDep,
    _key: EditDomain,
    sort: str = Query(
        "created_at", description="created_at, updated_at, type or dataset_count; '-' reverses."
    ),
) -> dict[str, Any]:
    total, rows = service.list_connections(session, limit=page.limit, offset=page.offset, sort=sort)
    return paginated(request, page, total, [service.to_public(session, row) for row in rows])


@router.post("/", status_code=201, operation_id="create-connection", summary="Create connection")
def create_connection(
    body: ConnectionCreate,
    session: SessionDep,
    settings: SettingsDep,
    _key: EditDomain,
) -> ConnectionPublic:
    connection = service.create_connection(session, settings, body)
    return service.to_public(session, connection)


@router.get("/{connection_uid}/", operation_id="retrieve-connection", summary="Retrieve Connection")
def retrieve_connection(connection_uid: str, session: SessionDep, _key: EditDomain) -> ConnectionPublic:
    return service.to_public(session, service.get_connection(session, connection_uid))


@router.put("/{connection_uid}/", operation_id="update-connection", summary="Update Connection")
def update_connection(
    connection_uid: str,
    body: ConnectionUpdate,
    session: SessionDep,
    settings: SettingsDep,
    _key: EditDomain,
) -> ConnectionPublic:
    connection = service.update_connection(session, settings, connection_uid, body)
    return service.to_public(session, connection)


@router.delete(
    "/{connection_uid}/", status_code=204, operation_id="delete-connection", summary="Delete Connection"
)
def delete_connection(connection_uid: str, session: SessionDep, _key: EditDomain) -> Response:
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
    session: SessionDep,
    settings: SettingsDep,
    _key: EditDomain,
    url: str | None = Query(None, description="An object or prefix to check with the connection."),
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
    url: Annotated[str, Query(description="The object or prefix the role must read.")],
    session: SessionDep,
    _key: EditDomain,
) -> PolicyDocuments:
    return service.policy_documents(session, connection_uid, url)
