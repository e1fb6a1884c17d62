"""Datasource connections (Amazon S3): where to read, and how to sign.

Secrets (the secret access key, the header values) are stored only as Fernet tokens made with
``settings.fernet``; header names stay readable so a connection can be shown without decrypting.
Datasets refer to a connection by ``uid`` in a plain column of their own (no cross-domain foreign key).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from datawharf.store.models.base import UID, Base, Timestamped


class Connection(Timestamped, Base):
    __tablename__ = "connections"

    uid: Mapped[str] = mapped_column(UID, primary_key=True)
    type: Mapped[str] = mapped_column(String(32), default="amazon_s3")
    title: Mapped[str | None] = mapped_column(String(500), default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    url: Mapped[str | None] = mapped_column(Text, default=None)
    is_reusable: Mapped[bool] = mapped_column(Boolean, default=True)
    auth_type: Mapped[str] = mapped_column(String(32))  # aws_signature_v4 | iam_role
    region: Mapped[str] = mapped_column(String(64))
    # aws_signature_v4
    access_key_id: Mapped[str | None] = mapped_column(String(256), default=None)
    secret_token: Mapped[str | None] = mapped_column(Text, default=None)  # Fernet token
    # headers: names in clear, values as one Fernet token of a JSON list (same order)
    header_names: Mapped[list[str]] = mapped_column(JSON, default=list)
    header_values_token: Mapped[str | None] = mapped_column(Text, default=None)
    # iam_role
    role_arn: Mapped[str | None] = mapped_column(String(2048), default=None)
    external_id: Mapped[str | None] = mapped_column(String(256), default=None, unique=True)
    ods_aws_account_id: Mapped[str | None] = mapped_column(String(32), default=None)
    role_is_valid: Mapped[bool] = mapped_column(Boolean, default=False)
    # the last validation report: {is_valid, checked_at, steps: [{name, ok, error_code, message}]}
    validation: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
