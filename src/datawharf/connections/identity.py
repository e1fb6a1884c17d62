"""datawharf's own AWS identity: the account the IAM-role connections' trust policies name.

Credentials come from the standard AWS credential chain (environment, shared config and profile),
as every AWS tool finds them; botocore resolves it, nothing here reads the environment itself. The
instance and container metadata services (169.254.169.254, ECS/EKS's endpoint) are in that chain
only when ``DATAWHARF_AWS_INSTANCE_METADATA`` is on: otherwise a server without credentials of its own
would probe the metadata service of whatever network it runs in each time a user creates an IAM-role
connection (and wait for its timeouts). STS is reached at ``DATAWHARF_STS_ENDPOINT_URL`` (tests,
S3-compatible STS) or AWS's endpoint for ``DATAWHARF_STS_REGION``. That endpoint is the operator's
setting, not user input, so the outbound guard does not apply to it.

Known limit: a shared-config profile naming ``credential_source = Ec2InstanceMetadata`` (or
``EcsContainer``) still asks the metadata service for its source credentials; that is the operator's
own explicit choice, written in their AWS config.

    own_identity(settings)    -> AwsIdentity (account id cached per credentials and endpoint)
    sts_client(settings)      -> (botocore STS client, frozen credentials)
    own_session(settings)     -> the botocore session whose chain finds those credentials
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore import exceptions as bx
from botocore.config import Config

from datawharf.errors import ConnectionProblem, DatawharfError, UpstreamUnavailable
from datawharf.settings import Settings

STEP = "assume_role"

_CREDENTIALS_HELP = (
    "Give datawharf AWS credentials of its own through the standard AWS credential chain: the "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY environment variables of the server, a profile "
    "(AWS_PROFILE, ~/.aws/credentials), or, with DATAWHARF_AWS_INSTANCE_METADATA=true, a role of the "
    "instance or container it runs on; for a non-AWS STS, also set DATAWHARF_STS_ENDPOINT_URL (and "
    "DATAWHARF_STS_REGION)."
)
# botocore's names for the providers that ask a metadata service (CredentialResolver.remove takes them).
_METADATA_PROVIDERS = ("iam-role", "container-role")


@dataclass(frozen=True)
class AwsIdentity:
    account_id: str
    arn: str


_identities: dict[tuple[str | None, str, str], AwsIdentity] = {}
_lock = threading.Lock()


def sts_client(settings: Settings) -> tuple[Any, Any]:
    """An STS client signing with datawharf's own credentials, and those credentials (frozen)."""
    session = own_session(settings)
    credentials = session.get_credentials()
    if credentials is None:
        raise ConnectionProblem(
            "datawharf has no AWS credentials of its own, so it cannot assume roles: none in its "
            f"environment or AWS profile{_metadata_note(settings)}. " + _CREDENTIALS_HELP,
            step=STEP,
            error_code="datawharf_credentials_missing",
            detail={"instance_metadata": settings.aws_instance_metadata},
        )
    config = Config(
        region_name=settings.sts_region,
        retries={"mode": "standard", "total_max_attempts": max(1, settings.s3_max_attempts)},
        connect_timeout=settings.s3_connect_timeout,
        read_timeout=settings.s3_read_timeout,
        ignore_configured_endpoint_urls=True,
        user_agent_extra="datawharf",
    )
    client = session.create_client("sts", endpoint_url=settings.sts_endpoint_url, config=config)
    return client, credentials.get_frozen_credentials()


def own_session(settings: Settings) -> botocore.session.Session:
    """A session whose credential chain asks a metadata service only if the setting allows it."""
    session = botocore.session.Session()
    if not settings.aws_instance_metadata:
        resolver = session.get_component("credential_provider")
        for name in _METADATA_PROVIDERS:
            resolver.remove(name)
    return session


def _metadata_note(settings: Settings) -> str:
    if settings.aws_instance_metadata:
        return ", nor from the instance or container metadata service"
    return " (the instance metadata service was not asked: DATAWHARF_AWS_INSTANCE_METADATA is off)"


def own_identity(settings: Settings) -> AwsIdentity:
    """``sts:GetCallerIdentity`` on datawharf's credentials, fetched once per credentials and endpoint."""
    client, frozen = sts_client(settings)
    key = (settings.sts_endpoint_url, settings.sts_region, frozen.access_key)
    with _lock:
        cached = _identities.get(key)
    if cached is not None:
        client.close()
        return cached
    try:
        answer = client.get_caller_identity()
    except (bx.BotoCoreError, bx.ClientError) as exc:
        raise translate_sts_error(exc, settings) from exc
    finally:
        client.close()
    identity = AwsIdentity(account_id=str(answer["Account"]), arn=str(answer["Arn"]))
    with _lock:
        _identities[key] = identity
    return identity


_OWN_CREDENTIAL_CODES = {
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "UnrecognizedClientException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
}


def translate_sts_error(exc: Exception, settings: Settings) -> DatawharfError:
    """An STS failure that is about datawharf itself (its credentials, its reach), not the role."""
    endpoint = settings.sts_endpoint_url or f"AWS STS ({settings.sts_region})"
    if isinstance(exc, bx.ClientError):
        code = str((exc.response or {}).get("Error", {}).get("Code", ""))
        if code in _OWN_CREDENTIAL_CODES:
            return ConnectionProblem(
                f"{endpoint} refused datawharf's own AWS credentials ({code}): they are unknown, wrong or "
                "expired. " + _CREDENTIALS_HELP,
                step=STEP,
                error_code="datawharf_credentials_invalid",
                detail={"sts_error_code": code},
            )
        return ConnectionProblem(
            f"{endpoint} refused the request ({code}): check datawharf's own AWS credentials and their "
            "policy (it needs sts:GetCallerIdentity and sts:AssumeRole).",
            step=STEP,
            error_code="sts_error",
            detail={"sts_error_code": code},
        )
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return ConnectionProblem(
            "datawharf has no usable AWS credentials of its own. " + _CREDENTIALS_HELP,
            step=STEP,
            error_code="datawharf_credentials_missing",
        )
    return UpstreamUnavailable(
        f"Could not reach {endpoint} ({type(exc).__name__}): check DATAWHARF_STS_ENDPOINT_URL and "
        "DATAWHARF_STS_REGION, and that this server can reach STS (firewall, proxy).",
        step=STEP,
        error_code="sts_unreachable",
    )
