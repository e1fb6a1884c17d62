"""Backoffice sessions: a signed cookie naming a server-side session, and the CSRF token.

The cookie holds a random session id (only its SHA-256 is stored, in ``backoffice_sessions``) and the
CSRF token; never the API key nor its uid. Because the session lives in the database, signing out
deletes it there: a copy of the cookie taken before (a shared computer, a stolen backup of a browser
profile) no longer signs anyone in. A session ends at sign-out, at ``DATAWHARF_BACKOFFICE_SESSION_HOURS``
after sign-in (no sliding renewal: a GET never writes), or when its API key is revoked.

The cookie is signed with itsdangerous, not encrypted: it holds nothing that is worth anything without
the database row. It is ``HttpOnly`` (no script reads it), ``SameSite=Lax`` (no cross-site POST
carries it) and, behind HTTPS, ``Secure``; every state-changing request also carries the CSRF token,
compared with the cookie's in constant time. A visitor who has not signed in still gets a cookie (a
CSRF token and no session id, nothing stored) so that the sign-in form is CSRF-protected too.

The signing key comes from ``DATAWHARF_SECRET_KEY`` when set (so several servers share sessions), or is
generated once into the home folder with mode 0600, like the encryption key: never a random key per
process, which would sign everyone out on restart.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from datawharf.keyfile import read_or_create
from datawharf.settings import Settings
from datawharf.store.models import BackofficeSession, utcnow

COOKIE_NAME = "datawharf_backoffice"
COOKIE_PATH = "/backoffice"


@dataclass(frozen=True)
class WebSession:
    """What the cookie carries: the server-side session's id (``None``: not signed in) and the CSRF token."""

    session_id: str | None
    csrf_token: str

    @classmethod
    def anonymous(cls) -> WebSession:
        return cls(session_id=None, csrf_token=secrets.token_urlsafe(32))

    def csrf_matches(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(self.csrf_token, str(presented))


def _id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def open_session(db: Session, key_uid: str, lifetime: timedelta) -> WebSession:
    """Sign-in: a new server-side session for ``key_uid``, with a fresh CSRF token (one planted before
    sign-in is worth nothing after). Expired rows are swept here, the one write sign-in makes anyway."""
    now = utcnow()
    db.execute(delete(BackofficeSession).where(BackofficeSession.expires_at <= now))
    session_id = secrets.token_urlsafe(32)
    db.add(BackofficeSession(id_hash=_id_hash(session_id), key_uid=key_uid, expires_at=now + lifetime))
    return WebSession(session_id=session_id, csrf_token=secrets.token_urlsafe(32))


def close_session(db: Session, session: WebSession) -> None:
    """Sign-out: the row goes, so the cookie (and every copy of it) stops working at once."""
    if session.session_id is not None:
        db.execute(delete(BackofficeSession).where(BackofficeSession.id_hash == _id_hash(session.session_id)))


def signed_in_key_uid(db: Session, session: WebSession) -> str | None:
    """The API key uid of a live server-side session; ``None`` when signed out, expired or unknown."""
    if session.session_id is None:
        return None
    # Compared in SQL: SQLite hands datetimes back without their time zone.
    return db.scalar(
        select(BackofficeSession.key_uid).where(
            BackofficeSession.id_hash == _id_hash(session.session_id),
            BackofficeSession.expires_at > utcnow(),
        )
    )


def session_secret(settings: Settings) -> bytes:
    if settings.secret_key is not None:
        material = settings.secret_key.get_secret_value().encode()
        return hashlib.sha256(b"datawharf backoffice session\0" + material).digest()
    return read_or_create(settings.home / "backoffice-session.key", lambda: secrets.token_hex(32).encode())


class SessionCodec:
    """Turns a ``WebSession`` into a signed, timestamped cookie value and back."""

    def __init__(self, secret: bytes, max_age_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="datawharf.backoffice.session")
        self.max_age_seconds = max_age_seconds

    def dumps(self, session: WebSession) -> str:
        return self._serializer.dumps({"s": session.session_id, "c": session.csrf_token})

    def loads(self, value: str | None) -> WebSession | None:
        """The session in ``value``; ``None`` when absent, tampered with, expired or malformed."""
        if not value:
            return None
        try:
            data = self._serializer.loads(value, max_age=self.max_age_seconds)
        except BadSignature:  # SignatureExpired is a BadSignature too
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        session_id = data.get("s") if isinstance(data.get("s"), str) else None
        return WebSession(session_id=session_id, csrf_token=data["c"])
