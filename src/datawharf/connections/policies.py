"""The two IAM documents a user pastes into their AWS account, built from the connection.

- the trust policy lets datawharf's AWS account assume the role, only with this connection's external
  ID (the confused-deputy guard: another customer of the same datawharf cannot name your role);
- the permission policy grants the least that reading one object (or one prefix) needs.
"""

from __future__ import annotations

from typing import Any

from datawharf.s3.locations import S3Location

VERSION = "2012-10-17"


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def trust_policy(account_id: str, external_id: str, region: str) -> dict[str, Any]:
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{partition_of(region)}:iam::{account_id}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
            }
        ],
    }


def permission_policy(location: S3Location, region: str) -> dict[str, Any]:
    """``s3:GetObject`` on the object; for a prefix (or bucket), on ``prefix*`` plus a listing limited
    to the prefix with an ``s3:prefix`` condition."""
    arn = f"arn:{partition_of(region)}:s3:::{location.bucket}"
    if location.is_object:
        return {
            "Version": VERSION,
            "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"{arn}/{location.key}"}
            ],
        }
    prefix = location.key
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"{arn}/{prefix}*"},
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": arn},
    ]
    if prefix:
        statements[1]["Condition"] = {"StringLike": {"s3:prefix": [prefix, f"{prefix}*"]}}
    return {"Version": VERSION, "Statement": statements}
