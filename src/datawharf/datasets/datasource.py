"""The reference ``AmazonS3Datasource``, typed and validated once, wherever a datasource comes in.

    {"type": "amazon_s3", "url": "...", "headers": [{"name", "value"}],
     "connection": {"uid": "co_..."} | <an inline AmazonS3Connection> | null}

``url`` is absolute, or relative to the connection's URL. ``connection`` is a reference to a saved
connection (``{"uid": null}`` is how a read resource shows "none"), an inline connection (checked like a
saved one; an IAM role cannot be inline: it needs its own external ID in the role's trust policy), or
nothing: an anonymous read (a public bucket). A header's ``value`` may be ``null`` on a resource update:
the stored value is kept, so a client can PUT back what it read.

Every refusal is an ``invalid_datasource`` naming the field and the rule, never a value.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, field_validator

from datawharf.connections.schemas import ConnectionCreate, SigV4AuthIn
from datawharf.errors import InvalidInput


class DatasourceHeader(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=256)
    value: str | None = Field(default=None, description="Write-only; null on update keeps the stored one.")

    @field_validator("name")
    @classmethod
    def _named(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("a header needs a non-empty name")
        return name


class ConnectionRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    uid: str | None


def _connection_kind(value: Any) -> str:
    if isinstance(value, dict) and set(value) <= {"uid"}:
        return "ref"
    if isinstance(value, ConnectionRef):
        return "ref"
    return "inline"


class AmazonS3Datasource(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["amazon_s3"]
    url: str = Field(min_length=1, max_length=8192)
    headers: list[DatasourceHeader] = Field(default_factory=list, max_length=50)
    connection: (
        Annotated[
            Annotated[ConnectionRef, Tag("ref")] | Annotated[ConnectionCreate, Tag("inline")],
            Discriminator(_connection_kind),
        ]
        | None
    ) = None

    @field_validator("url")
    @classmethod
    def _stripped(cls, url: str) -> str:
        if not url.strip():
            raise ValueError("the URL is empty")
        return url.strip()

    @field_validator("headers", mode="before")
    @classmethod
    def _no_headers(cls, headers: Any) -> Any:
        return [] if headers is None else headers

    @property
    def connection_uid(self) -> str | None:
        """The saved connection named by reference, if any."""
        return self.connection.uid if isinstance(self.connection, ConnectionRef) else None

    @property
    def inline(self) -> ConnectionCreate | None:
        return self.connection if isinstance(self.connection, ConnectionCreate) else None


_RULES = {
    "type": "Unsupported datasource type: datawharf reads 'amazon_s3' (url, connection, headers).",
    "url": "datasource.url is required: the URL of the object (or its name relative to the connection's).",
    "headers": 'The datasource\'s headers must be a list of {"name": "...", "value": "..."} objects, each '
    "with a non-empty name and a string value.",
    "connection": 'The datasource\'s connection must be {"uid": "co_..."}, null, or a valid inline Amazon S3 '
    "connection (see the AmazonS3Connection schema), or create the connection first and refer to it by "
    "uid.",
}


def parse_datasource(raw: Any) -> AmazonS3Datasource:
    """The typed datasource, or one ``invalid_datasource`` naming the first field at fault."""
    if isinstance(raw, AmazonS3Datasource):
        return raw
    if not isinstance(raw, dict):
        raise InvalidInput(
            "The datasource must be an object with a type ('amazon_s3').",
            error_code="invalid_datasource",
            detail={"datasource.type": ["an object with a type"]},
        )
    try:
        datasource = AmazonS3Datasource.model_validate(raw)
    except ValidationError as exc:
        fields = sorted(
            {
                ".".join(str(part) for part in error["loc"] if part not in ("ref", "inline"))
                for error in exc.errors(include_input=False)
            }
        )
        faulty = {name.split(".")[0] for name in fields}
        top = next((name for name in _RULES if name in faulty), "type")
        raise InvalidInput(
            _RULES.get(top, _RULES["type"]),
            error_code="invalid_datasource",
            detail={f"datasource.{top}": [f"check: {', '.join(fields)}"]},
        ) from None
    inline = datasource.inline
    if inline is not None and not isinstance(inline.auth, SigV4AuthIn):
        raise InvalidInput(
            "An IAM-role connection cannot be given inline: it needs its own external ID in the role's trust "
            "policy. Create it with POST /datasource_connections/ and refer to it by uid.",
            error_code="invalid_datasource",
            detail={"datasource.connection": ["an IAM role must be saved first"]},
        )
    return datasource
