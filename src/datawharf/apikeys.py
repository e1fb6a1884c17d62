"""API keys: create, authenticate, list, revoke.

A key is 32 random bytes (hex); only its SHA-256 is stored. A fast hash is right here, unlike for
passwords: a 256-bit random key cannot be brute-forced, and authentication runs on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from datawharf.errors import AuthenticationFailed, InvalidInput, NotFound, PermissionDenied
from datawharf.store.models import ApiKey, new_uid, utcnow

# The reference Automation API permission names that datawharf enforces.
PERMISSIONS: tuple[str, ...] = (
    "edit_domain",  # connections, API keys
    "create_dataset",
    "edit_dataset",
    "publish_dataset",
    "manage_dataset",
    "explore_restricted_dataset",
)
ADMIN_PERMISSIONS: list[str] = list(PERMISSIONS)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class CreatedKey:
    """The one moment the clear key exists: returned once, never stored."""

    api_key: ApiKey
    key: str = field(repr=False)  # never in a log line or a traceback that prints the object


def _check_permissions(permissions: list[str]) -> list[str]:
    unknown = sorted(set(permissions) - set(PERMISSIONS))
    if unknown:
        raise InvalidInput(
            f"Unknown permission(s): {', '.join(unknown)}. Choose among: {', '.join(PERMISSIONS)}.",
            error_code="unknown_permission",
            detail={"permissions": unknown},
        )
    return sorted(set(permissions))


def create_key(session: Session, label: str, permissions: list[str], *, key: str | None = None) -> CreatedKey:
    """A new key; ``key`` lets automation choose the value (bootstrap), otherwise it is random."""
    clear = key if key is not None else secrets.token_hex(32)
    if len(clear) < 16:
        raise InvalidInput("An API key must be at least 16 characters long.", error_code="api_key_too_short")
    api_key = ApiKey(
        uid=new_uid("ak"),
        label=label,
        key_hash=_hash(clear),
        key_hint=clear[:6],
        permissions=_check_permissions(permissions),
    )
    session.add(api_key)
    session.flush()
    return CreatedKey(api_key=api_key, key=clear)


def authenticate(session: Session, key: str) -> ApiKey:
    """The live key matching ``key``; unknown and revoked keys are refused alike (no oracle)."""
    digest = _hash(key)
    api_key = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
    if api_key is None or api_key.revoked_at is not None or not hmac.compare_digest(api_key.key_hash, digest):
        raise AuthenticationFailed(
            "The API key is unknown or revoked. Send a valid key as 'Authorization: apikey <key>'.",
            error_code="invalid_api_key",
        )
    api_key.last_used_at = utcnow()
    return api_key


def require_permission(api_key: ApiKey, permission: str) -> None:
    if permission not in api_key.permissions:
        raise PermissionDenied(
            f"This API key lacks the '{permission}' permission. Use a key that has it, "
            "or create one with 'datawharf apikeys create'.",
            error_code="missing_permission",
            detail={"permission": permission},
        )


def list_keys(session: Session, *, limit: int, offset: int) -> tuple[int, list[ApiKey]]:
    total = session.scalar(select(func.count()).select_from(ApiKey)) or 0
    keys = session.scalars(select(ApiKey).order_by(ApiKey.created_at).limit(limit).offset(offset)).all()
    return total, list(keys)


def get_key(session: Session, uid: str) -> ApiKey:
    api_key = session.get(ApiKey, uid)
    if api_key is None:
        raise NotFound(
            f"No API key with uid {uid!r}: list them with GET /apikeys/ or 'datawharf apikeys list'.",
            error_code="apikey_not_found",
        )
    return api_key


def revoke_key(session: Session, uid: str, reason: str | None = None) -> ApiKey:
    api_key = get_key(session, uid)
    if api_key.revoked_at is None:
        api_key.revoked_at = utcnow()
        api_key.revocation_reason = reason
    return api_key


def count_live_keys(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ApiKey).where(ApiKey.revoked_at.is_(None))) or 0


def ensure_bootstrap_key(session: Session, key: str) -> None:
    """Make the configured bootstrap key exist (idempotent), so automation knows a key before start."""
    if session.scalar(select(ApiKey).where(ApiKey.key_hash == _hash(key))) is None:
        create_key(session, "bootstrap (DATAWHARF_BOOTSTRAP_API_KEY)", ADMIN_PERMISSIONS, key=key)
