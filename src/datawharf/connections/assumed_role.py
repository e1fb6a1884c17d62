"""Assumed-role credentials for IAM-role connections: temporary, in memory, refreshed before expiry.

``sts:AssumeRole`` with the connection's ``RoleArn``, its ``ExternalId`` and the session name
``datawharf-<connection uid>``; botocore's ``RefreshableCredentials`` calls it again when the
credentials enter the refresh window, so long reads never sign with expired keys. Nothing is written
anywhere: the cache below lives in the process, keyed by everything that changes who we become (uid,
role, external ID, STS endpoint), so an updated role ARN gets new credentials at once.

A process-wide cache, against the house habit of owning clients per connection: temporary credentials
are per connection, not per client, and re-assuming the role for every preview would multiply STS
calls (and CloudTrail noise) for nothing. ``forget(uid)`` drops a connection's entry.
"""

from __future__ import annotations

import threading
from datetime import datetime

from botocore import exceptions as bx
from botocore.credentials import RefreshableCredentials
from botocore.utils import parse_timestamp

from datawharf.connections.identity import STEP, sts_client, translate_sts_error
from datawharf.errors import ConnectionProblem
from datawharf.settings import Settings

# botocore's own defaults (seconds before expiry): refresh when convenient, then block to refresh.
ADVISORY_REFRESH_SECONDS = 15 * 60
MANDATORY_REFRESH_SECONDS = 10 * 60
DURATION_SECONDS = 3600

_REFUSED_CODES = {"AccessDenied", "AccessDeniedException", "NoSuchEntity", "InvalidIdentityToken"}


def role_not_assumable(
    role_arn: str, external_id: str, account_id: str | None, code: str
) -> ConnectionProblem:
    principal = f"arn:aws:iam::{account_id}:root" if account_id else "datawharf's AWS account"
    return ConnectionProblem(
        "datawharf AWS account is not authorized to assume the role identified by role_arn. "
        f"Check that the role ARN ({role_arn}) is the role's exact ARN, that the role's trust policy allows "
        f"sts:AssumeRole to the principal {principal}, and that its condition requires exactly the external "
        f"ID {external_id} (StringEquals sts:ExternalId).",
        step=STEP,
        error_code="role_not_assumable",
        detail={"role_arn": role_arn, "external_id": external_id, "sts_error_code": code},
    )


def assume_role(
    settings: Settings, *, uid: str, role_arn: str, external_id: str, account_id: str | None = None
) -> dict[str, str]:
    """One AssumeRole call; the credentials in botocore's refreshable-metadata shape."""
    client, _frozen = sts_client(settings)
    try:
        answer = client.assume_role(
            RoleArn=role_arn,
            ExternalId=external_id,
            RoleSessionName=f"datawharf-{uid}"[:64],
            DurationSeconds=DURATION_SECONDS,
        )
    except bx.ClientError as exc:
        code = str((exc.response or {}).get("Error", {}).get("Code", ""))
        if code in _REFUSED_CODES:
            raise role_not_assumable(role_arn, external_id, account_id, code) from exc
        raise translate_sts_error(exc, settings) from exc
    except bx.BotoCoreError as exc:
        raise translate_sts_error(exc, settings) from exc
    finally:
        client.close()
    creds = answer["Credentials"]
    expiration = creds["Expiration"]
    return {
        "access_key": str(creds["AccessKeyId"]),
        "secret_key": str(creds["SecretAccessKey"]),
        "token": str(creds["SessionToken"]),
        "expiry_time": expiration.isoformat() if isinstance(expiration, datetime) else str(expiration),
    }


_cache: dict[tuple[str, str, str, str | None, str], RefreshableCredentials] = {}
_lock = threading.Lock()


def role_credentials(
    settings: Settings,
    *,
    uid: str,
    role_arn: str,
    external_id: str,
    account_id: str | None = None,
    advisory_refresh_seconds: float = ADVISORY_REFRESH_SECONDS,
    mandatory_refresh_seconds: float = MANDATORY_REFRESH_SECONDS,
) -> RefreshableCredentials:
    """The connection's refreshable credentials, assuming the role now if none are cached.

    Raises ``role_not_assumable`` (and the identity errors) on the first assumption; a later refresh
    that fails raises the same error from whichever S3 request needed fresh keys.
    """
    key = (uid, role_arn, external_id, settings.sts_endpoint_url, settings.sts_region)
    with _lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached

    def refresh() -> dict[str, str]:
        return assume_role(
            settings, uid=uid, role_arn=role_arn, external_id=external_id, account_id=account_id
        )

    metadata = refresh()
    credentials = RefreshableCredentials(
        access_key=metadata["access_key"],
        secret_key=metadata["secret_key"],
        token=metadata["token"],
        expiry_time=parse_timestamp(metadata["expiry_time"]),
        refresh_using=refresh,
        method="assume-role",
        advisory_timeout=advisory_refresh_seconds,
        mandatory_timeout=mandatory_refresh_seconds,
    )
    with _lock:
        _cache[key] = credentials
    return credentials


def forget(uid: str) -> None:
    """Drop a connection's cached credentials (its role changed, or it was deleted)."""
    with _lock:
        for key in [key for key in _cache if key[0] == uid]:
            del _cache[key]
