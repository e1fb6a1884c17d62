"""Credentials as botocore objects: the client factory takes one of these, or None to read anonymously.

Static keys become ``botocore.credentials.Credentials``; IAM-role connections pass
``botocore.credentials.RefreshableCredentials`` (``connections/assumed_role.py``: AssumeRole, refreshed
before expiry) through the same door, so the client never knows which kind it signs with.
"""

from __future__ import annotations

from botocore.credentials import Credentials

from datawharf.errors import InvalidInput


def static_credentials(
    access_key_id: str, secret_access_key: str, session_token: str | None = None
) -> Credentials:
    """Credentials from an access key pair (and a session token for temporary keys)."""
    if not access_key_id.strip() or not secret_access_key:
        raise InvalidInput(
            "The access key ID and the secret access key are both required for signature v4: give both.",
            error_code="missing_credentials",
        )
    return Credentials(access_key_id.strip(), secret_access_key, session_token, method="datawharf-static")
