"""The backoffice session cookie: who signed in (an API key's uid, never the key) and the CSRF token.

The cookie is signed with itsdangerous, not encrypted: it holds nothing secret. It is ``HttpOnly`` (no
script reads it), ``SameSite=Lax`` (no cross-site POST carries it) and, behind HTTPS, ``Secure``; every
form also carries the CSRF token, compared with the cookie's in constant time. A visitor who has not
signed in still gets a session (with ``key_uid=None``) so that the sign-in form is CSRF-protected too.

The signing key comes from ``DATAWHARF_SECRET_KEY`` when set (so several servers share sessions), or is
generated once into the home folder with mode 0600, like the encryption key: never a random key per
process, which would sign everyone out on restart.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from datawharf.settings import Settings

COOKIE_NAME = "datawharf_backoffice"
COOKIE_PATH = "/backoffice"
MAX_AGE_SECONDS = 12 * 3600


@dataclass(frozen=True)
class WebSession:
    key_uid: str | None
    csrf_token: str

    @classmethod
    def anonymous(cls) -> WebSession:
        return cls(key_uid=None, csrf_token=secrets.token_urlsafe(32))

    @classmethod
    def signed_in(cls, key_uid: str) -> WebSession:
        # A fresh CSRF token at sign-in: a token planted before sign-in is worth nothing after.
        return cls(key_uid=key_uid, csrf_token=secrets.token_urlsafe(32))

    def csrf_matches(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(self.csrf_token, str(presented))


def session_secret(settings: Settings) -> bytes:
    if settings.secret_key is not None:
        material = settings.secret_key.get_secret_value().encode()
        return hashlib.sha256(b"datawharf backoffice session\0" + material).digest()
    path = settings.home / "backoffice-session.key"
    if not path.exists():
        settings.home.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker wrote it first: use theirs
            return path.read_bytes().strip()
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_hex(32).encode())
    return path.read_bytes().strip()


class SessionCodec:
    """Turns a ``WebSession`` into a signed, timestamped cookie value and back."""

    def __init__(self, secret: bytes) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="datawharf.backoffice.session")

    def dumps(self, session: WebSession) -> str:
        return self._serializer.dumps({"k": session.key_uid, "c": session.csrf_token})

    def loads(self, value: str | None) -> WebSession | None:
        """The session in ``value``; ``None`` when absent, tampered with, expired or malformed."""
        if not value:
            return None
        try:
            data = self._serializer.loads(value, max_age=MAX_AGE_SECONDS)
        except BadSignature:  # SignatureExpired is a BadSignature too
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        key_uid = data.get("k")
        return WebSession(key_uid=key_uid if isinstance(key_uid, str) else None, csrf_token=data["c"])
