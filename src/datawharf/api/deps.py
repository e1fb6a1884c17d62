"""Dependencies shared by the routers: settings, a database session, the caller's API key.

A route declares them by type: ``session: SessionDep``, ``settings: SettingsDep``, and the key it needs
as a permission alias (``_key: EditDataset``), so the permission reads in the signature.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from datawharf import apikeys
from datawharf.errors import AuthenticationFailed
from datawharf.settings import Settings
from datawharf.store.db import Database
from datawharf.store.models import ApiKey


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_database(request: Request) -> Database:
    return request.app.state.database


def get_session(database: Database = Depends(get_database)) -> Iterator[Session]:
    with database.session() as session:
        yield session


def presented_key(request: Request) -> str | None:
    """The key from ``Authorization: apikey <key>``, or the reference's ``?apikey=`` alternative."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "apikey" or not value.strip():
            raise AuthenticationFailed(
                "Malformed Authorization header. Send 'Authorization: apikey <key>'.",
                error_code="invalid_authorization_header",
            )
        return value.strip()
    return request.query_params.get("apikey")


def optional_api_key(request: Request, session: Session = Depends(get_session)) -> ApiKey | None:
    key = presented_key(request)
    return apikeys.authenticate(session, key) if key else None


def current_api_key(api_key: ApiKey | None = Depends(optional_api_key)) -> ApiKey:
    if api_key is None:
        raise AuthenticationFailed(
            "This route needs an API key. Send 'Authorization: apikey <key>' "
            "(the first key is printed by 'datawharf serve'; more with 'datawharf apikeys create').",
            error_code="missing_api_key",
        )
    return api_key


def require(permission: str) -> Callable[..., ApiKey]:
    """A dependency that lets through only keys holding ``permission``."""

    def dependency(api_key: ApiKey = Depends(current_api_key)) -> ApiKey:
        apikeys.require_permission(api_key, permission)
        return api_key

    return dependency


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
AnyApiKey = Annotated[ApiKey, Depends(current_api_key)]
EditDomain = Annotated[ApiKey, Depends(require("edit_domain"))]
CreateDataset = Annotated[ApiKey, Depends(require("create_dataset"))]
EditDataset = Annotated[ApiKey, Depends(require("edit_dataset"))]
PublishDataset = Annotated[ApiKey, Depends(require("publish_dataset"))]
ManageDataset = Annotated[ApiKey, Depends(require("manage_dataset"))]
