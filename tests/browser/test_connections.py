"""Connection journeys in a real browser: signature v4 (validated, secret never shown again) and the
seed's IAM-role journey up to the refusal message."""

from __future__ import annotations

import json
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Backoffice, Shots, assert_every_control_labelled, sign_in

pytestmark = pytest.mark.browser

SECRET = "browser-test-secret-9f8e7d"


def test_signature_v4_connection(page: Page, backoffice: Backoffice, shots: Shots) -> None:
    bucket = backoffice.moto.create_bucket()
    backoffice.moto.put_object(bucket, "data/fruits.csv", b"name;price\napple;1\n")
    sign_in(page, backoffice, "/backoffice/connections/")
    page.get_by_role("link", name="Add connection").click()
    page.get_by_label("Amazon S3").check()
    page.get_by_label("AWS signature v4").check()
    shots("choose-method")
    page.get_by_role("button", name="Continue").click()

    page.get_by_label("Title").fill("Fruits bucket")
    page.get_by_label("URL").fill(f"{backoffice.moto.endpoint_url}/{bucket}/data/fruits.csv")
    page.get_by_label("Region").fill("us-east-1")
    page.get_by_label("Access key", exact=True).fill("AKIABROWSERTEST")
    page.get_by_label("Secret access key").fill(SECRET)
    expect(page.get_by_label("Secret access key")).to_have_attribute("type", "password")
    # Two header rows added, one removed: only the kept one is saved.
    page.get_by_role("button", name="Add a header").click()
    page.get_by_label("Header name").last.fill("x-amz-request-payer")
    page.get_by_label("Header value").last.fill("requester")
    page.get_by_role("button", name="Add a header").click()
    page.get_by_label("Header name").last.fill("x-to-remove")
    page.get_by_role("button", name="Remove this header").last.click()
    expect(page.get_by_label("Header name")).to_have_count(1)
    shots("sigv4-form")
    assert_every_control_labelled(page)
    page.get_by_role("button", name="Validate", exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Fruits bucket")
    expect(page.locator("h1 .badge")).to_have_text("Valid")
    expect(page.locator("[data-notice]")).to_have_text("Connection saved.")
    report = page.locator("#validation-report")
    for step in ("endpoint", "authentication", "bucket", "object"):
        expect(report.locator(f"[data-step={step}] .badge")).to_have_text("passed")
    expect(report.locator("[data-step=object]")).to_contain_text("fruits.csv")
    expect(page.locator("body")).not_to_contain_text(SECRET)
    expect(page.locator("body")).to_contain_text("x-amz-request-payer")
    shots("sigv4-valid", docs_name="connection-signature-v4")
    assert_every_control_labelled(page)

    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("Secret access key")).to_have_value("")
    expect(page.get_by_label("Header value")).to_have_value("")
    expect(page.get_by_label("Access key", exact=True)).to_have_value("AKIABROWSERTEST")
    assert SECRET not in page.content()
    # A wrong region is refused with the service's message; the secret is not filled back, nor is a
    # region that is not region-shaped (it may be a secret typed in the wrong field).
    page.get_by_label("Region").fill("north pole")
    page.get_by_label("Secret access key").fill(SECRET)
    page.get_by_role("button", name="Save and validate").click()
    expect(page.get_by_role("alert")).to_contain_text("lowercase letters, digits and hyphens")
    expect(page.locator("body")).not_to_contain_text("north pole")
    expect(page.get_by_label("Region")).to_have_value("")
    expect(page.get_by_label("Secret access key")).to_have_value("")
    shots("edit-refused")

    page.get_by_role("link", name="Cancel").click()
    page.get_by_role("button", name="Re-validate").click()
    expect(page.locator("#validation-report [data-step=object] .badge")).to_have_text("passed")
    expect(page.locator("h1 .badge")).to_have_text("Valid")

    page.get_by_role("navigation", name="Catalog").get_by_role("link", name="Connections").click()
    row = page.get_by_role("row").filter(has_text="Fruits bucket")
    expect(row).to_contain_text("AWS signature v4")
    expect(row).to_contain_text("Valid")
    shots("connection-list")
    # Typed twice in forms, the secret reached neither a page nor the server's log.
    assert SECRET not in (backoffice.home / "serve.log").read_text(errors="replace")


def _role_trusting(backoffice: Backoffice, external_id: str) -> str:
    """A role on the IAM-enforcing server whose trust policy names datawharf's identity and one external ID
    (one Allow statement naming the user: what that server evaluates right)."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": backoffice.identity.arn},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
            }
        ],
    }
    iam = backoffice.iam.boto3_client("iam")
    role = iam.create_role(
        RoleName=f"dw-browser-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=json.dumps(trust)
    )
    return str(role["Role"]["Arn"])


def test_iam_role_connection_until_refusal(page: Page, backoffice: Backoffice, shots: Shots) -> None:
    sign_in(page, backoffice, "/backoffice/connections/new")
    page.get_by_label("IAM role").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Region").fill("eu-west-3")
    page.get_by_role("button", name="Validate", exact=True).click()

    # Created, but not valid: the seed's "Notice that the connection is created but is not valid".
    expect(page.locator("h1 .badge")).to_have_text("Invalid")
    account_id = page.locator("#ods-aws-account-id").inner_text()
    external_id = page.locator("#external-id").inner_text()
    assert account_id.isdigit() and len(account_id) == 12
    assert external_id.startswith("dw-browsertest-")
    trust = json.loads(page.locator("#trust-policy").inner_text())
    statement = trust["Statement"][0]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{account_id}:root"}
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": external_id}}
    steps = page.locator("#console-steps")
    expect(steps).to_contain_text(f"Account ID {account_id}")
    expect(steps).to_contain_text(external_id)
    page.get_by_role("button", name="Copy the trust policy").click()
    expect(page.locator("#trust-copied")).to_have_text("Copied to the clipboard.")
    page.get_by_label("File (or folder) URL for a permission policy").fill(
        "https://mybucket.s3.eu-west-3.amazonaws.com/test.csv"
    )
    page.get_by_role("button", name="Show the permission policy").click()
    policy = json.loads(page.locator("#permission-policy").inner_text())
    assert policy["Statement"][0]["Resource"] == "arn:aws:s3:::mybucket/test.csv"
    shots("iam-created-invalid", docs_name="connection-iam-role")
    assert_every_control_labelled(page)

    page.get_by_label("Role ARN", exact=True).fill("arn:aws:iam::12345:role/too-short")
    page.get_by_role("button", name="Validate", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("The role ARN is not written as one")

    page.get_by_label("Role ARN", exact=True).fill(_role_trusting(backoffice, f"someone-else-{uuid.uuid4()}"))
    page.get_by_role("button", name="Validate", exact=True).click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(
        "datawharf AWS account is not authorized to assume the role identified by role_arn"
    )
    expect(alert).to_contain_text(external_id)
    expect(page.get_by_label("Role ARN", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.locator("h1 .badge")).to_have_text("Invalid")
    shots("iam-role-refused")

    # The role as the console steps say: trusting this connection's external ID -> valid.
    role_arn = _role_trusting(backoffice, external_id)
    page.get_by_label("Role ARN", exact=True).fill(role_arn)
    page.get_by_role("button", name="Validate", exact=True).click()
    expect(page.locator("h1 .badge")).to_have_text("Valid")
    expect(page.locator("#validation-report [data-step=assume_role] .badge")).to_have_text("passed")
    expect(page.get_by_role("region", name="Connection", exact=True)).to_contain_text(role_arn)
    expect(page.locator("[data-notice]")).to_have_text(
        "Role ARN saved, and the connection checked with it: the result is below."
    )
    shots("iam-role-valid")

    # Unused, it can be deleted (after the confirmation).
    uid = page.url.rsplit("/", 1)[-1]
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(backoffice.url("/backoffice/connections/"))
    expect(page.locator("main")).not_to_contain_text(uid)
    expect(page.locator("[data-notice]")).to_have_text("Connection deleted.")
