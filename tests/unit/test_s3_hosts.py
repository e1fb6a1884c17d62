"""Hosts botocore cannot use are refused as ``invalid_host`` with the form to write, never a ValueError."""

from __future__ import annotations

import pytest
from botocore.session import Session
from hypothesis import given, settings
from hypothesis import strategies as st

from datawharf.errors import InvalidInput
from datawharf.s3.locations import parse_location


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("http://127%2e0.0.1/bucket/key", "percent-escape"),
        ("http://127.0.0.1%2e:9000/bucket/key", "percent-escape"),
        ("http://%31%32%37.0.0.1/bucket/key", "percent-escape"),
        ("http://[fe80::1%25eth0]/bucket/key", "percent-escape"),
        ("http://bucket\u3002example\u3002com/bucket/key", "write it as bucket.example.com"),  # ideographic
        ("http://bucket\uff0eexample\uff0ecom/bucket/key", "write it as bucket.example.com"),  # fullwidth
        ("http://bucket\uff61example\uff61com/bucket/key", "write it as bucket.example.com"),  # halfwidth
        ("http://b\u00fccher.example/bucket/key", "write it as xn--bcher-kva.example"),
        ("http://\u2488.example/bucket/key", "ASCII (IDNA, xn--...) form"),
        ("http://under_score.example/bucket/key", "letters, digits and hyphens"),
        ("http://-leading.example/bucket/key", "letters, digits and hyphens"),
        (f"http://{'a' * 64}.example/bucket/key", "at most 63"),
    ],
)
def test_hosts_botocore_refuses_are_a_specific_400(url: str, hint: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_location(url)
    assert error.value.error_code == "invalid_host"
    assert error.value.http_status == 400
    assert hint in error.value.message


@pytest.mark.parametrize(
    "url",
    [
        "http://xn--bcher-kva.example/bucket/key",
        "http://[::1]:9000/bucket/key",
        "https://old_bucket.s3.eu-west-3.amazonaws.com/key",  # the bucket is not part of the endpoint
        "http://s3.example.com./bucket/key",
    ],
)
def test_hosts_botocore_accepts_still_parse(url: str) -> None:
    assert parse_location(url).bucket


_SESSION = Session()


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_any_host_is_parsed_into_an_endpoint_botocore_takes_or_refused(host: str) -> None:
    """Whatever is typed as the host: an InvalidInput, or an endpoint botocore makes a client for."""
    try:
        location = parse_location(f"http://{host}/bucket/key")
    except InvalidInput:
        return
    assert location.endpoint_url is not None
    _SESSION.create_client(
        "s3",
        endpoint_url=location.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="a",
        aws_secret_access_key="b",
    )
