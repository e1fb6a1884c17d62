"""Connection input checks and policy documents: tables of inputs and the exact answers."""

from __future__ import annotations

import pytest

from datawharf.connections import checks, policies
from datawharf.connections.validation import SIGV4_STEPS, Report
from datawharf.errors import ConnectionProblem, InvalidInput
from datawharf.s3.locations import parse_location

GOOD_ARNS = [
    "arn:aws:iam::061258320951:role/ODSRoleAuthMyDomain",
    "arn:aws-cn:iam::123456789012:role/path/to/MyRole",
    "arn:aws-us-gov:iam::123456789012:role/service-role/a+b=c,d.e@f-g_h",
]
BAD_ARNS = [
    "arn:aws:iam::12345:role/x",  # account is not 12 digits
    "arn:aws:iam::123456789012:user/bob",  # a user, not a role
    "arn:aws:s3:::bucket",
    "arn:aws-xx:iam::123456789012:role/x",  # unknown partition
    "arn:aws:iam::123456789012:role/",  # no name
    "arn:aws:iam::123456789012:role/has space",
    " arn:aws:iam::123456789012:role/x\nnext",
]


@pytest.mark.parametrize("arn", GOOD_ARNS)
def test_role_arn_syntax_accepted(arn: str) -> None:
    assert checks.check_role_arn(arn) == arn


@pytest.mark.parametrize("arn", BAD_ARNS)
def test_role_arn_syntax_refused(arn: str) -> None:
    with pytest.raises(InvalidInput) as error:
        checks.check_role_arn(arn)
    assert error.value.error_code == "malformed_role_arn"


@pytest.mark.parametrize(
    ("region", "url", "code"),
    [
        ("eu-wst-3", "https://b1.s3.amazonaws.com/f.csv", "unknown_region"),
        ("", "https://b1.s3.amazonaws.com/f.csv", "missing_region"),
        ("us-east-1", "https://b1.s3.eu-west-3.amazonaws.com/f.csv", "region_mismatch"),
        ("Bad Region", "http://minio.example.com/b1/f.csv", "malformed_region"),
        ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "http://minio.example.com/b1/f.csv", "malformed_region"),
    ],
)
def test_region_checks(region: str, url: str, code: str) -> None:
    with pytest.raises(InvalidInput) as error:
        checks.check_region(region, parse_location(url))
    assert error.value.error_code == code
    if code == "malformed_region":  # not region-shaped: maybe a secret, never repeated
        assert region not in str(error.value.to_body())
        assert "lowercase letters, digits and hyphens" in error.value.message


@pytest.mark.parametrize("arn", ["wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "arn:aws:iam::12:role/x"])
def test_a_refused_role_arn_is_not_repeated(arn: str) -> None:
    with pytest.raises(InvalidInput) as error:
        checks.check_role_arn(arn)
    assert arn not in str(error.value.to_body())


def test_regions_accepted_per_provider() -> None:
    assert (
        checks.check_region("eu-west-3", parse_location("https://b1.s3.eu-west-3.amazonaws.com/f"))
        == "eu-west-3"
    )
    assert (
        checks.check_region("gra", parse_location("https://b1.s3.gra.io.cloud.ovh.net/fruits.csv")) == "gra"
    )
    assert checks.check_region("cn-north-1", None) == "cn-north-1"


def test_trust_and_permission_policies_per_partition() -> None:
    trust = policies.trust_policy("000000000000", "dw-d-1", "cn-north-1")
    assert trust["Statement"][0]["Principal"] == {"AWS": "arn:aws-cn:iam::000000000000:root"}
    assert trust["Statement"][0]["Condition"] == {"StringEquals": {"sts:ExternalId": "dw-d-1"}}
    whole_bucket = policies.permission_policy(parse_location("s3://mybucket"), "eu-west-1")
    assert whole_bucket["Statement"] == [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::mybucket/*"},
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": "arn:aws:s3:::mybucket"},
    ]
    gov = policies.permission_policy(parse_location("s3://mybucket/test.csv"), "us-gov-west-1")
    assert gov["Statement"][0]["Resource"] == "arn:aws-us-gov:s3:::mybucket/test.csv"


def test_report_marks_earlier_steps_passed_and_later_not_checked() -> None:
    report = Report(SIGV4_STEPS)
    report.fail("bucket", ConnectionProblem("No bucket b.", step="bucket", error_code="no_such_bucket"))
    body = report.as_dict()
    assert body["is_valid"] is False
    assert [(s["name"], s["ok"], s["error_code"]) for s in body["steps"]] == [
        ("endpoint", True, None),
        ("authentication", True, None),
        ("bucket", False, "no_such_bucket"),
        ("object", None, None),
    ]
    assert body["steps"][3]["message"] == "Not checked: step bucket failed."
