"""Connections: create, read, update, delete, validate; the one place that knows their rules.

- Secrets are write-only: encrypted with ``settings.fernet`` as they arrive, decrypted only to sign.
  An update without a secret (or a header value) keeps the stored one, so rotating a key is an update
  with the new secret.
- Every input is checked before anything is saved or sent (``checks``); a refused create or update
  changes nothing.
- Validation runs on create, on update and on demand; its report is stored with the connection, so an
  invalid connection can be saved and shows why it is invalid.
- IAM role: the external ID is made once at creation and never changes; a role ARN is accepted only if
  datawharf can assume it (else ``role_not_assumable``, nothing saved).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from botocore.credentials import Credentials
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from datawharf.connections import assumed_role, checks
from datawharf.connections.crypto import decrypt, decrypt_values, encrypt, encrypt_values
from datawharf.connections.identity import own_identity
from datawharf.connections.policies import permission_policy, trust_policy
from datawharf.connections.schemas import (
    ConnectionCreate,
    ConnectionPublic,
    ConnectionUpdate,
    HeaderPublic,
    IamRoleAuthIn,
    IamRoleAuthPublic,
    PolicyDocuments,
    SigV4AuthIn,
    SigV4AuthPublic,
    ValidationReport,
)
from datawharf.connections.scope import check_in_scope
from datawharf.connections.usage import count_datasets_using
from datawharf.connections.validation import IAM_STEPS, SIGV4_STEPS, Report, check_location
from datawharf.errors import Conflict, ConnectionProblem, DatawharfError, InvalidInput, NotFound
from datawharf.s3.client import S3Client, client_for
from datawharf.s3.credentials import static_credentials
from datawharf.s3.locations import S3Location, parse_location
from datawharf.settings import Settings
from datawharf.store.models import Connection, new_uid

SIGV4 = "aws_signature_v4"
IAM_ROLE = "iam_role"
SORTS = ("created_at", "updated_at", "type", "dataset_count")


# --- reading ---------------------------------------------------------------------------------------


def get_connection(session: Session, uid: str) -> Connection:
    connection = session.get(Connection, uid)
    if connection is None:
        raise NotFound(
            f"No connection {uid}: list them with GET /datasource_connections/.",
            error_code="connection_not_found",
            detail={"uid": uid},
        )
    return connection


def list_connections(
    session: Session, *, limit: int, offset: int, sort: str = "created_at"
) -> tuple[int, list[Connection]]:
    descending = sort.startswith("-")
    field = sort.lstrip("-")
    if field not in SORTS:
        raise InvalidInput(
            f"Cannot sort by {sort!r}: use one of {', '.join(SORTS)}, with '-' in front to reverse.",
            error_code="invalid_sort",
        )
    total = session.scalar(select(func.count()).select_from(Connection)) or 0
    if field == "dataset_count":
        everything = list(session.scalars(select(Connection).order_by(Connection.created_at, Connection.uid)))
        everything.sort(key=lambda c: count_datasets_using(session, c.uid), reverse=descending)
        return total, everything[offset : offset + limit]
    column = getattr(Connection, field)
    order = (column.desc(), Connection.uid.desc()) if descending else (column.asc(), Connection.uid.asc())
    rows = session.scalars(select(Connection).order_by(*order).limit(limit).offset(offset))
    return total, list(rows)


def to_public(session: Session, connection: Connection) -> ConnectionPublic:
    """The connection as returned: no field of this model can carry a secret."""
    auth: SigV4AuthPublic | IamRoleAuthPublic
    if connection.auth_type == SIGV4:
        auth = SigV4AuthPublic(access_key_id=connection.access_key_id or "", region=connection.region)
    else:
        auth = IamRoleAuthPublic(
            region=connection.region,
            role_arn=connection.role_arn or "",
            ods_aws_account_id=connection.ods_aws_account_id,
            external_id=connection.external_id or "",
            is_valid=connection.role_is_valid,
            trust_policy=_trust_policy_of(connection),
        )
    return ConnectionPublic(
        uid=connection.uid,
        title=connection.title,
        description=connection.description,
        url=connection.url,
        is_reusable=connection.is_reusable,
        # Only keys holding edit_domain read connections, and they may reuse any reusable one (scope.py).
        can_reuse=connection.is_reusable,
        headers=[HeaderPublic(name=name) for name in connection.header_names],
        auth=auth,
        dataset_count=count_datasets_using(session, connection.uid),
        created_at=_aware(connection.created_at),
        updated_at=_aware(connection.updated_at),
        validation=ValidationReport.model_validate(connection.validation) if connection.validation else None,
    )


def _aware(moment: datetime) -> datetime:
    """SQLite hands timestamps back without their zone; they were stored in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _trust_policy_of(connection: Connection) -> dict[str, Any] | None:
    if not connection.ods_aws_account_id or not connection.external_id:
        return None
    return trust_policy(connection.ods_aws_account_id, connection.external_id, connection.region)


# --- writing ---------------------------------------------------------------------------------------


def create_connection(session: Session, settings: Settings, data: ConnectionCreate) -> Connection:
    """Check, save and validate a new connection (an invalid one is saved, with its report)."""
    connection = Connection(uid=new_uid("co"), type="amazon_s3", header_names=[], role_is_valid=False)
    _apply(settings, connection, data, creating=True)
    if connection.auth_type == IAM_ROLE:
        identity = own_identity(settings)
        connection.ods_aws_account_id = identity.account_id
        connection.external_id = f"{settings.external_id_prefix}-{settings.domain}-{uuid.uuid4()}"
    _validate(settings, connection, url=None, reassume=True)
    session.add(connection)
    session.flush()
    return connection


def build_unsaved(settings: Settings, data: ConnectionCreate) -> Connection:
    """A checked connection that is not added to any session (inline datasources)."""
    connection = Connection(uid=new_uid("co"), type="amazon_s3", header_names=[], role_is_valid=False)
    _apply(settings, connection, data, creating=True)
    return connection


def update_connection(session: Session, settings: Settings, uid: str, data: ConnectionUpdate) -> Connection:
    """PUT: the whole connection; secrets and header values left out keep their stored values."""
    connection = get_connection(session, uid)
    previous_role = (connection.auth_type, connection.role_arn)
    _apply(settings, connection, data, creating=False)
    if connection.auth_type == IAM_ROLE and not connection.external_id:
        # Switched from signature v4: the external ID is made now, once, and kept for good.
        identity = own_identity(settings)
        connection.ods_aws_account_id = identity.account_id
        connection.external_id = f"{settings.external_id_prefix}-{settings.domain}-{uuid.uuid4()}"
    reassume = previous_role != (connection.auth_type, connection.role_arn)
    try:
        _validate(settings, connection, url=None, reassume=reassume, refuse_role=True)
    except DatawharfError:
        session.expire(connection)  # nothing half-saved: the refused values never reach the database
        raise
    session.flush()
    return connection


def delete_connection(session: Session, uid: str) -> None:
    connection = get_connection(session, uid)
    used_by = count_datasets_using(session, uid)
    if used_by:
        raise Conflict(
            f"The connection {uid} is used by {used_by} dataset(s): change or delete their resources first, "
            "then delete the connection.",
            error_code="connection_in_use",
            detail={"dataset_count": used_by},
        )
    session.delete(connection)
    session.flush()
    assumed_role.forget(uid)


def validate_connection(session: Session, settings: Settings, uid: str, url: str | None = None) -> Connection:
    """Validate now, optionally a given object or prefix under the URL (``url_outside_connection``
    elsewhere: the connection's credentials go nowhere else); store the report."""
    connection = get_connection(session, uid)
    if url:
        check_in_scope(connection, parse_location(url, base_url=connection.url))
    _validate(settings, connection, url=url, reassume=True)
    session.flush()
    return connection


def policy_documents(session: Session, uid: str, url: str) -> PolicyDocuments:
    """The trust policy and a least-privilege permission policy for ``url`` (an object or a prefix)."""
    connection = get_connection(session, uid)
    location = parse_location(url, base_url=connection.url)
    if not location.bucket:
        raise InvalidInput(
            f"{url!r} names no bucket: give an object's URL (or a folder's, ending with '/').",
            error_code="malformed_url",
        )
    return PolicyDocuments(
        connection_uid=connection.uid,
        url=url,
        ods_aws_account_id=connection.ods_aws_account_id,
        external_id=connection.external_id or "",
        trust_policy=_trust_policy_of(connection),
        permission_policy=permission_policy(location, connection.region),
    )


def _apply(settings: Settings, connection: Connection, data: ConnectionCreate, *, creating: bool) -> None:
    """Check every field, then copy them onto ``connection`` (nothing is copied if one is refused)."""
    auth = data.auth
    location = checks.check_url(settings, data.url, required=isinstance(auth, SigV4AuthIn))
    region = checks.check_region(auth.region, location)
    header_pairs = _merge_headers(settings, connection, data, creating=creating)
    if isinstance(auth, SigV4AuthIn):
        access_key_id = checks.check_access_key_id(auth.access_key_id)
        if auth.secret_access_key is not None:
            secret_token: str | None = encrypt(
                settings, checks.check_secret(auth.secret_access_key.get_secret_value())
            )
        elif connection.secret_token and connection.auth_type == SIGV4:
            secret_token = connection.secret_token
        else:
            raise InvalidInput(
                "The secret access key is empty: give the secret shown when the access key was created.",
                error_code="empty_secret_access_key",
            )
        connection.access_key_id = access_key_id
        connection.secret_token = secret_token
        connection.role_arn = None
        connection.role_is_valid = False
    else:
        assert isinstance(auth, IamRoleAuthIn)
        connection.role_arn = checks.check_role_arn(auth.role_arn)
        connection.access_key_id = None
        connection.secret_token = None
    connection.auth_type = auth.type
    connection.region = region
    connection.url = data.url.strip() if data.url and data.url.strip() else None
    connection.title = data.title
    connection.description = data.description
    connection.is_reusable = data.is_reusable
    connection.header_names = [name for name, _value in header_pairs]
    connection.header_values_token = encrypt_values(settings, [value for _name, value in header_pairs])


def _merge_headers(
    settings: Settings, connection: Connection, data: ConnectionCreate, *, creating: bool
) -> list[tuple[str, str]]:
    stored: dict[str, str] = {}
    if not creating:
        stored = {
            name.lower(): value
            for name, value in zip(
                connection.header_names, decrypt_values(settings, connection.header_values_token), strict=True
            )
        }
    pairs: list[tuple[str, str]] = []
    for header in data.headers:
        if header.value is not None:
            pairs.append((header.name, header.value.get_secret_value()))
        elif header.name.lower() in stored:
            pairs.append((header.name, stored[header.name.lower()]))
        else:
            raise InvalidInput(
                f"The header {header.name} has no value: give one (values are write-only; an update may "
                "leave out the value of a header already saved).",
                error_code="missing_header_value",
                detail={"header": header.name},
            )
    return checks.check_headers(pairs)


# --- validation and use ----------------------------------------------------------------------------


def headers_of(settings: Settings, connection: Connection) -> list[tuple[str, str]]:
    values = decrypt_values(settings, connection.header_values_token)
    return list(zip(connection.header_names, values, strict=True))


def credentials_of(settings: Settings, connection: Connection) -> Credentials:
    """What signs the connection's requests: its static key, or the assumed role's temporary keys."""
    if connection.auth_type == SIGV4:
        return static_credentials(
            connection.access_key_id or "", decrypt(settings, connection.secret_token or "")
        )
    if not connection.role_arn:
        raise ConnectionProblem(
            f"The connection {connection.uid} has no role ARN yet: create the role with the connection's "
            "trust policy, then update the connection with the role's ARN.",
            step="assume_role",
            error_code="role_arn_missing",
        )
    return assumed_role.role_credentials(
        settings,
        uid=connection.uid,
        role_arn=connection.role_arn,
        external_id=connection.external_id or "",
        account_id=connection.ods_aws_account_id,
    )


def client_of(settings: Settings, connection: Connection, location: S3Location) -> S3Client:
    return client_for(
        settings,
        location,
        region=connection.region,
        credentials=credentials_of(settings, connection),
        headers=headers_of(settings, connection),
    )


def _validate(
    settings: Settings,
    connection: Connection,
    *,
    url: str | None,
    reassume: bool,
    refuse_role: bool = False,
) -> None:
    """Run the checks and store the report; with ``refuse_role``, a refused new role ARN raises instead."""
    target = url or connection.url
    iam = connection.auth_type == IAM_ROLE
    report = Report(IAM_STEPS if iam else SIGV4_STEPS)
    location = parse_location(target, base_url=connection.url) if target else None
    if iam:
        if reassume:
            assumed_role.forget(connection.uid)
        try:
            credentials_of(settings, connection)
        except DatawharfError as error:
            connection.role_is_valid = False
            if refuse_role and reassume and connection.role_arn:
                raise
            report.fail("assume_role", error)
            connection.validation = report.as_dict()
            return
        connection.role_is_valid = True
        report.ok("assume_role", f"datawharf assumed the role {connection.role_arn}.")
    if location is None:
        for name in ("endpoint", "bucket", "object"):
            report.skip(
                name, "Not checked: the connection has no URL. Validate with a URL to check an object."
            )
        connection.validation = report.as_dict()
        return
    auth_message = (
        f"Requests signed with the access key {connection.access_key_id} were accepted."
        if not iam
        else f"Requests signed with the role {connection.role_arn}'s credentials were accepted."
    )

    def name_the_role(error: DatawharfError) -> DatawharfError:
        if iam and error.error_code == "access_denied":
            error.message = (
                f"{error.message} The role used is {connection.role_arn}: allow it in the role's policy."
            )
        return error

    check_location(
        settings,
        location,
        lambda: client_of(settings, connection, location),
        report,
        auth_ok_message=auth_message,
        describe_error=name_the_role,
    )
    connection.validation = report.as_dict()
