"""Upstream text is scrubbed of a connection's secrets (in clear and encoded) and bounded in length."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from datawharf.s3.errors import Where, translate
from datawharf.s3.scrub import REDACTED, UPSTREAM_TEXT_MAX, Scrubber

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "FQoGZXIvYXdzEJr//////////wEaDOoken+token/=="
HEADER_VALUE = "tenant-secret-0123"
SCRUBBER = Scrubber((SECRET, TOKEN, HEADER_VALUE))


def encodings(secret: str) -> list[str]:
    raw = secret.encode()
    return [
        secret,
        secret.upper(),
        quote(secret, safe=""),
        quote_plus(secret),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    ]


@pytest.mark.parametrize("form", [form for s in (SECRET, TOKEN, HEADER_VALUE) for form in encodings(s)])
def test_every_form_of_a_secret_is_redacted(form: str) -> None:
    cleaned = SCRUBBER.clean(f"You sent x-amz-security-token: {form}; that is wrong.")
    assert form not in cleaned and REDACTED in cleaned
    assert cleaned.startswith("You sent x-amz-security-token: ") and cleaned.endswith("that is wrong.")


def test_an_echoed_signature_is_redacted() -> None:
    signature = "a" * 64
    echoed = f"Authorization: AWS4-HMAC-SHA256 Credential=AKID/x, SignedHeaders=host, Signature={signature}"
    cleaned = Scrubber().clean(echoed + f" and ?X-Amz-Signature={signature}")
    assert signature not in cleaned and cleaned.count(f"Signature={REDACTED}") == 2


def test_text_is_bounded_and_on_one_line_after_scrubbing() -> None:
    cleaned = SCRUBBER.clean("line\r\none\x00\x1b[31m" + "x" * 5000 + SECRET)
    assert len(cleaned) == UPSTREAM_TEXT_MAX and cleaned.endswith("…")
    assert "\n" not in cleaned and "\x00" not in cleaned and "\x1b" not in cleaned
    # a secret straddling the cut is gone whole, not cut in half and kept
    near_end = "y" * (UPSTREAM_TEXT_MAX - 10) + SECRET
    assert SECRET[:9] not in SCRUBBER.clean(near_end)
    assert len(SCRUBBER.token("c" * 500)) == 64


@given(st.text(), st.sampled_from([SECRET, TOKEN, HEADER_VALUE]), st.text())
def test_a_secret_never_survives_whatever_surrounds_it(before: str, secret: str, after: str) -> None:
    assert secret not in SCRUBBER.clean(before + secret + after, limit=10_000)


def client_error(code: str, status: int, message: str, **headers: str) -> ClientError:
    response: dict[str, Any] = {
        "Error": {"Code": code, "Message": message, "RequestId": HEADER_VALUE},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers},
    }
    return ClientError(response, "GetObject")


WHERE = Where(bucket="b", key="k.csv", endpoint="https://s3.example", region="us-east-1", scrubber=SCRUBBER)


@pytest.mark.parametrize(
    ("code", "error_code"), [("InvalidArgument", "invalid_request"), ("Odd", "s3_error")]
)
def test_a_translated_error_keeps_our_message_and_codes_but_no_secret(code: str, error_code: str) -> None:
    echoed = f"You sent x-dw-tenant: {HEADER_VALUE}, token {quote(TOKEN, safe='')}, key {SECRET}"
    error = translate(client_error(code, 400, echoed, **{"x-amz-id-2": TOKEN}), WHERE)
    assert error.error_code == error_code
    assert error.detail["s3_error_code"] == code and error.detail["http_status"] == 400
    assert error.detail["request_id"] == REDACTED and error.detail["host_id"] == REDACTED
    assert "s3://b/k.csv" in error.message and REDACTED in error.detail["s3_message"]
    everything = error.message + repr(error.detail)
    for secret in (SECRET, TOKEN, HEADER_VALUE, quote(TOKEN, safe="")):
        assert secret not in everything


def test_an_error_code_or_region_carrying_a_secret_is_not_repeated() -> None:
    odd = translate(client_error(HEADER_VALUE, 400, "m"), WHERE)
    assert odd.error_code == "s3_error" and HEADER_VALUE not in odd.message + repr(odd.detail)
    # a "region" that is a secret is no region: the redirect is refused without naming it
    moved = translate(
        client_error("PermanentRedirect", 301, "m", **{"x-amz-bucket-region": HEADER_VALUE}), WHERE
    )
    assert moved.error_code == "redirect_refused" and HEADER_VALUE not in moved.message + repr(moved.detail)
