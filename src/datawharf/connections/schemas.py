"""The connection family, as the API and the CLI see it: ``ConnectionCreate`` / ``ConnectionUpdate`` in,
``ConnectionPublic`` out.

``ConnectionPublic`` has no field that could hold a secret: ``secret_access_key`` and header ``value``
are typed ``None``, so a secret cannot be returned even by mistake (not hidden by deleting, absent by
construction). Input models stay loose about values (plain strings): the service checks them and
answers with a specific ``error_code`` per mistake, which pydantic's generic messages would not give.

Extra fields are ignored on input, so a client may PUT back what it GOT (``uid``, ``dataset_count``,
``validation``, read-only ``external_id``...).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from datawharf.shapes import unset_omitted

_IN = ConfigDict(extra="ignore")


class HeaderIn(BaseModel):
    model_config = _IN

    name: str
    value: SecretStr | None = Field(
        default=None, description="Write-only. On update, omit or null to keep the stored value."
    )


class SigV4AuthIn(BaseModel):
    model_config = _IN

    type: Literal["aws_signature_v4"]
    access_key_id: str = ""
    secret_access_key: SecretStr | None = Field(
        default=None, description="Write-only. On update, omit or null to keep the stored secret."
    )
    region: str = ""


class IamRoleAuthIn(BaseModel):
    model_config = _IN

    type: Literal["iam_role"]
    region: str = ""
    role_arn: str = Field(default="", description="Empty at creation; set it by update once the role exists.")


AuthIn = Annotated[SigV4AuthIn | IamRoleAuthIn, Field(discriminator="type")]


class ConnectionCreate(BaseModel):
    model_config = _IN

    type: Literal["amazon_s3"] = "amazon_s3"
    title: str | None = Field(default=None, max_length=500)
    description: str | None = Field(default=None, max_length=10_000)
    url: str | None = Field(
        default=None,
        description="The bucket's or the endpoint's URL (required for signature v4).",
        max_length=4096,
    )
    is_reusable: bool = True
    headers: list[HeaderIn] = Field(default_factory=list, max_length=50)
    auth: AuthIn


class ConnectionUpdate(ConnectionCreate):
    """PUT replaces the connection, as the reference's PUT does (its body is the whole ``Connection``,
    ``type`` required): a field left out takes its default (no ``title`` is no title), so a client changes
    a field by GET, modify, PUT. The write-only values are the exception: a missing secret (or header
    value) keeps the stored one, since a GET can never return them."""

    type: Literal["amazon_s3"]


class HeaderPublic(BaseModel):
    name: str
    value: None = Field(default=None, description="Always null: header values are write-only.")


class SigV4AuthPublic(BaseModel):
    type: Literal["aws_signature_v4"] = "aws_signature_v4"
    access_key_id: str
    secret_access_key: None = Field(default=None, description="Always null: the secret is write-only.")
    region: str


class IamRoleAuthPublic(BaseModel):
    type: Literal["iam_role"] = "iam_role"
    region: str
    role_arn: str
    ods_aws_account_id: str | None = unset_omitted("Absent while datawharf's own AWS account is unknown.")
    external_id: str
    is_valid: bool
    trust_policy: dict[str, Any] | None = Field(
        description="Ours: the trust policy to paste in the role, allowing datawharf to assume it."
    )


class ValidationStep(BaseModel):
    name: str
    ok: bool | None = Field(description="null: not checked, because an earlier step failed.")
    error_code: str | None = None
    message: str


class ValidationReport(BaseModel):
    is_valid: bool
    checked_at: datetime
    steps: list[ValidationStep]


class ConnectionPublic(BaseModel):
    uid: str
    type: Literal["amazon_s3"] = "amazon_s3"
    title: str | None
    description: str | None
    url: str | None
    is_reusable: bool
    can_reuse: bool = True
    can_manage: bool = True
    headers: list[HeaderPublic]
    auth: SigV4AuthPublic | IamRoleAuthPublic
    dataset_count: int
    created_at: datetime
    updated_at: datetime
    validation: ValidationReport | None = Field(description="Ours: the last validation report.")


class PolicyDocuments(BaseModel):
    """``GET /datasource_connections/{uid}/policy/?url=``: both documents, ready to paste."""

    connection_uid: str
    url: str
    ods_aws_account_id: str | None
    external_id: str
    trust_policy: dict[str, Any] | None
    permission_policy: dict[str, Any]
