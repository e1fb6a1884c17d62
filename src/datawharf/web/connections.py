"""Catalog > Connections: list, add (IAM role or signature v4), edit, validate, delete.

Every rule (checks, encryption, validation, the external ID, the refusal message) lives in
``datawharf.connections.service``; these pages only turn forms into its input models and its answers
and errors into HTML. A refused form is shown again with the message and what was typed, except the
secrets: a secret field is never filled back.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from pydantic import SecretStr

from datawharf.connections import service
from datawharf.connections.checks import is_region_shaped, known_aws_regions
from datawharf.connections.schemas import (
    ConnectionCreate,
    ConnectionPublic,
    ConnectionUpdate,
    HeaderIn,
    IamRoleAuthIn,
    PolicyDocuments,
    SigV4AuthIn,
)
from datawharf.errors import Conflict, DatawharfError
from datawharf.inputs import parse_input
from datawharf.s3.client import is_header_name
from datawharf.web.notices import saved
from datawharf.web.rendering import (
    BASE,
    BackofficeRoute,
    Visitor,
    csrf_checked,
    database_of,
    render,
    settings_of,
    signed_in,
)

router = APIRouter(prefix=f"{BASE}/connections", route_class=BackofficeRoute, include_in_schema=False)

METHODS = {
    "iam_role": "IAM role",
    "aws_signature_v4": "AWS signature v4",
}
PERMISSION = "edit_domain"


def editor(current: Annotated[Visitor, Depends(signed_in)]) -> Visitor:
    """Connections are the domain's settings: the key needs ``edit_domain``, as in the API."""
    current.require(PERMISSION)
    return current


Editor = Annotated[Visitor, Depends(editor)]


@dataclass
class ConnectionForm:
    """What the add/edit form shows again after a refusal (through ``shown()``): never a secret."""

    method: str
    title: str = ""
    url: str = ""
    region: str = ""
    access_key_id: str = ""
    header_names: list[str] = field(default_factory=list)

    def shown(self) -> ConnectionForm:
        """The form as it may be shown again: a region or a header name that does not look like one is
        left out (it may be a secret typed, or a ``Name: value`` line pasted, in the wrong field)."""
        return replace(
            self,
            region=self.region if is_region_shaped(self.region) else "",
            header_names=[name if is_header_name(name.strip()) else "" for name in self.header_names],
        )


def region_names() -> list[str]:
    return sorted(known_aws_regions())


def _form_page(
    request: Request,
    current: Visitor,
    form: ConnectionForm,
    *,
    connection: ConnectionPublic | None = None,
    error: DatawharfError | None = None,
) -> Response:
    return render(
        request,
        "connections/form.html",
        current=current,
        section="connections",
        form=form.shown(),
        connection=connection,
        methods=METHODS,
        regions=region_names(),
        error=error,
        status_code=error.http_status if error else 200,
    )


def _headers_in(names: list[str], values: list[str]) -> list[HeaderIn]:
    """Header rows; an empty value means "keep the stored one" (the service refuses it on create)."""
    headers: list[HeaderIn] = []
    for index, name in enumerate(names):
        value = values[index] if index < len(values) else ""
        if not name.strip() and not value:
            continue  # an empty row left in the form
        headers.append(HeaderIn(name=name.strip(), value=SecretStr(value) if value else None))
    return headers


def connection_input(
    form: ConnectionForm, secret: str, header_values: list[str], role_arn: str = ""
) -> dict[str, Any]:
    auth: IamRoleAuthIn | SigV4AuthIn
    if form.method == "iam_role":
        auth = IamRoleAuthIn(type="iam_role", region=form.region, role_arn=role_arn)
    else:
        auth = SigV4AuthIn(
            type="aws_signature_v4",
            access_key_id=form.access_key_id,
            secret_access_key=SecretStr(secret) if secret else None,
            region=form.region,
        )
    return {
        "type": "amazon_s3",
        "title": form.title.strip() or None,
        "url": form.url.strip() or None,
        "headers": _headers_in(form.header_names, header_values),
        "auth": auth,
    }


@router.get("/")
def connection_list(request: Request, current: Editor) -> Response:
    with database_of(request).session() as db:
        _total, rows = service.list_connections(db, limit=1000, offset=0, sort="-created_at")
        connections = [service.to_public(db, row) for row in rows]
    return render(
        request,
        "connections/list.html",
        current=current,
        section="connections",
        connections=connections,
        methods=METHODS,
    )


@router.get("/new")
def new_connection(request: Request, current: Editor, method: str | None = None) -> Response:
    if method not in METHODS:
        return render(
            request, "connections/choose.html", current=current, section="connections", methods=METHODS
        )
    return _form_page(request, current, ConnectionForm(method=method))


@router.post("/new", dependencies=[Depends(csrf_checked)])
def create_connection(
    request: Request,
    current: Editor,
    method: Annotated[str, Form()],
    title: Annotated[str, Form()] = "",
    url: Annotated[str, Form()] = "",
    region: Annotated[str, Form()] = "",
    access_key_id: Annotated[str, Form()] = "",
    secret_access_key: Annotated[str, Form()] = "",
    header_name: Annotated[list[str] | None, Form()] = None,
    header_value: Annotated[list[str] | None, Form()] = None,
) -> Response:
    form = ConnectionForm(
        method=method if method in METHODS else "aws_signature_v4",
        title=title,
        url=url,
        region=region,
        access_key_id=access_key_id,
        header_names=header_name or [],
    )
    try:
        data = parse_input(ConnectionCreate, connection_input(form, secret_access_key, header_value or []))
        with database_of(request).session() as db:
            uid = service.create_connection(db, settings_of(request), data).uid
    except DatawharfError as error:
        return _form_page(request, current, form, error=error)
    return saved(f"{BASE}/connections/{uid}", "connection")


def _detail_page(
    request: Request,
    current: Visitor,
    uid: str,
    *,
    error: DatawharfError | None = None,
    role_arn: str | None = None,
    policy_url: str | None = None,
) -> Response:
    policy: PolicyDocuments | None = None
    policy_error: DatawharfError | None = None
    with database_of(request).session() as db:
        connection = service.to_public(db, service.get_connection(db, uid))
        if policy_url:
            try:
                policy = service.policy_documents(db, uid, policy_url)
            except DatawharfError as exc:
                policy_error = exc
    return render(
        request,
        "connections/detail.html",
        current=current,
        section="connections",
        connection=connection,
        methods=METHODS,
        error=error,
        role_arn=role_arn if role_arn is not None else getattr(connection.auth, "role_arn", ""),
        policy_url=policy_url or "",
        policy=policy,
        policy_error=policy_error,
        status_code=error.http_status if error else 200,
    )


@router.get("/{uid}")
def connection_detail(request: Request, current: Editor, uid: str, policy_url: str | None = None) -> Response:
    return _detail_page(request, current, uid, policy_url=policy_url)


@router.post("/{uid}/role", dependencies=[Depends(csrf_checked)])
def set_role_arn(
    request: Request, current: Editor, uid: str, role_arn: Annotated[str, Form()] = ""
) -> Response:
    """The seed's last step: paste the role's ARN and validate (refused with what to check)."""
    try:
        with database_of(request).session() as db:
            connection = service.to_public(db, service.get_connection(db, uid))
            data = ConnectionUpdate(
                type="amazon_s3",
                title=connection.title,
                description=connection.description,
                url=connection.url,
                is_reusable=connection.is_reusable,
                headers=[HeaderIn(name=header.name) for header in connection.headers],
                auth=IamRoleAuthIn(type="iam_role", region=connection.auth.region, role_arn=role_arn),
            )
            service.update_connection(db, settings_of(request), uid, data)
    except DatawharfError as error:
        return _detail_page(request, current, uid, error=error, role_arn=role_arn)
    return saved(f"{BASE}/connections/{uid}", "role")


@router.post("/{uid}/validate", dependencies=[Depends(csrf_checked)])
def revalidate(request: Request, current: Editor, uid: str) -> Response:
    try:
        with database_of(request).session() as db:
            service.validate_connection(db, settings_of(request), uid)
    except DatawharfError as error:
        return _detail_page(request, current, uid, error=error)
    return saved(f"{BASE}/connections/{uid}", "validated")


@router.post("/{uid}/delete", dependencies=[Depends(csrf_checked)])
def delete(request: Request, current: Editor, uid: str) -> Response:
    try:
        with database_of(request).session() as db:
            service.delete_connection(db, uid)
    except Conflict as error:
        return _detail_page(request, current, uid, error=error)
    return saved(f"{BASE}/connections/", "connection-deleted")


@router.get("/{uid}/edit")
def edit_connection(request: Request, current: Editor, uid: str) -> Response:
    with database_of(request).session() as db:
        connection = service.to_public(db, service.get_connection(db, uid))
    form = ConnectionForm(
        method=connection.auth.type,
        title=connection.title or "",
        url=connection.url or "",
        region=connection.auth.region,
        access_key_id=getattr(connection.auth, "access_key_id", ""),
        header_names=[header.name for header in connection.headers],
    )
    return _form_page(request, current, form, connection=connection)


@router.post("/{uid}/edit", dependencies=[Depends(csrf_checked)])
def update_connection(
    request: Request,
    current: Editor,
    uid: str,
    title: Annotated[str, Form()] = "",
    url: Annotated[str, Form()] = "",
    region: Annotated[str, Form()] = "",
    access_key_id: Annotated[str, Form()] = "",
    secret_access_key: Annotated[str, Form()] = "",
    header_name: Annotated[list[str] | None, Form()] = None,
    header_value: Annotated[list[str] | None, Form()] = None,
) -> Response:
    with database_of(request).session() as db:
        connection = service.to_public(db, service.get_connection(db, uid))
    form = ConnectionForm(
        method=connection.auth.type,
        title=title,
        url=url,
        region=region,
        access_key_id=access_key_id,
        header_names=header_name or [],
    )
    role_arn = getattr(connection.auth, "role_arn", "")
    try:
        values = connection_input(form, secret_access_key, header_value or [], role_arn=role_arn)
        data = parse_input(
            ConnectionUpdate,
            {**values, "description": connection.description, "is_reusable": connection.is_reusable},
        )
        with database_of(request).session() as db:
            service.update_connection(db, settings_of(request), uid, data)
    except DatawharfError as error:
        return _form_page(request, current, form, connection=connection, error=error)
    return saved(f"{BASE}/connections/{uid}", "connection")
