"""Secrets at rest: Fernet tokens made with ``settings.fernet`` (key from settings or the home folder).

Every secret datawharf keeps goes through here: a connection's secret access key and header values, and
a resource's datasource header values.

A token that no longer decrypts (the key was changed or lost) is reported as such, with the fix,
instead of surfacing as a signature error against S3 much later.
"""

from __future__ import annotations

import json

from cryptography.fernet import InvalidToken

from datawharf.errors import InvalidInput
from datawharf.settings import Settings


def encrypt(settings: Settings, clear: str) -> str:
    return settings.fernet.encrypt(clear.encode("utf-8")).decode("ascii")


def decrypt(settings: Settings, token: str) -> str:
    try:
        return settings.fernet.decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise InvalidInput(
            "A stored secret (a connection's secret access key or a header value) cannot be decrypted: "
            "the encryption key (DATAWHARF_SECRET_KEY, or secret.key in the home folder) changed since it "
            "was saved. Restore the old key, or update the connection (or the resource) with its secrets "
            "again.",
            error_code="secret_undecryptable",
        ) from exc


def encrypt_values(settings: Settings, values: list[str]) -> str | None:
    return encrypt(settings, json.dumps(values)) if values else None


def decrypt_values(settings: Settings, token: str | None) -> list[str]:
    return [str(value) for value in json.loads(decrypt(settings, token))] if token else []
