"""``/apikeys/``: the reference API-key routes. The clear key appears once, in the creation response."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from datawharf import apikeys
from datawharf.api.deps import EditDomain, SessionDep
from datawharf.api.pagination import PageDep, Paginated, paginated
from datawharf.shapes import unset_omitted
from datawharf.store.models import ApiKey

router = APIRouter(prefix="/apikeys", tags=["API keys"])


class ApiKeyCreate(BaseModel):
    label: str = Field(min_length=1, max_length=200)
    permissions: list[str] = Field(default_factory=list)


class RevocationStatus(BaseModel):
    revoked_at: datetime | None
    revocation_reason: str | None = unset_omitted("Absent when none was given.")


class ApiKeyPublic(BaseModel):
    uid: str
    label: str
    permissions: list[str]
    created_at: datetime
    is_revoked: bool
    revocation_status: RevocationStatus
    key: str | None = unset_omitted("The clear key: only in the creation response.")

    @classmethod
    def of(cls, api_key: ApiKey, key: str | None = None) -> ApiKeyPublic:
        return cls(
            uid=api_key.uid,
            label=api_key.label,
            permissions=api_key.permissions,
            created_at=api_key.created_at,
            is_revoked=api_key.revoked_at is not None,
            revocation_status=RevocationStatus(
                revoked_at=api_key.revoked_at, revocation_reason=api_key.revocation_reason
            ),
            key=key,
        )


class Revocation(BaseModel):
    revocation_reason: str | None = Field(default=None, max_length=500)


@router.get("/", operation_id="get-apikeys", summary="List API keys", response_model=Paginated[ApiKeyPublic])
def list_api_keys(
    request: Request,
    page: PageDep,
    session: SessionDep,
    _key: EditDomain,
) -> dict[str, Any]:
    total, keys = apikeys.list_keys(session, limit=page.limit, offset=page.offset)
    return paginated(request, page, total, [ApiKeyPublic.of(k) for k in keys])


@router.post("/", status_code=201, operation_id="post-apikeys", summary="Create an API key")
def create_api_key(body: ApiKeyCreate, session: SessionDep, _key: EditDomain) -> ApiKeyPublic:
    created = apikeys.create_key(session, body.label, body.permissions)
    return ApiKeyPublic.of(created.api_key, key=created.key)


@router.get("/{apikey_uid}/", operation_id="get-apikey", summary="Retrieve an API key")
def get_api_key(apikey_uid: str, session: SessionDep, _key: EditDomain) -> ApiKeyPublic:
    return ApiKeyPublic.of(apikeys.get_key(session, apikey_uid))


@router.post("/{apikey_uid}/revoke/", operation_id="post-apikey-revoke", summary="Revoke an API key")
def revoke_api_key(
    apikey_uid: str,
    session: SessionDep,
    _key: EditDomain,
    body: Revocation | None = None,
) -> ApiKeyPublic:
    reason = body.revocation_reason if body else None
    return ApiKeyPublic.of(apikeys.revoke_key(session, apikey_uid, reason))
