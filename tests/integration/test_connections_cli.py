"""``datawharf connections ...`` as a user runs it: a subprocess, the secret on stdin, never in argv."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.support.moto import IamMotoServer, allow

CSV = b"name,qty\napple,3\n"


def cli(
    home: Path, allowed: str, *args: str, stdin: str = "", extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        "DATAWHARF_HOME": str(home),
        "DATAWHARF_ALLOWED_PRIVATE_HOSTS": allowed,
        "DATAWHARF_S3_MAX_ATTEMPTS": "1",
        "PATH": "/usr/bin:/bin",
        "COLUMNS": "250",
        **(extra_env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "datawharf", "connections", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_connections_cli_round_trip(tmp_path: Path, iam_moto_server: IamMotoServer) -> None:
    bucket = iam_moto_server.create_bucket()
    iam_moto_server.put_object(bucket, "fruits.csv", CSV)
    user = iam_moto_server.create_user(policy=allow(["s3:GetObject"], ["*"]))
    url = f"{iam_moto_server.endpoint_url}/{bucket}/fruits.csv"
    allowed = iam_moto_server.host_port
    home = tmp_path / "home"

    secret_line = user.secret_access_key + "\n"
    created = cli(
        home, allowed, "create", "--url", url, "--region", "us-east-1", "--access-key-id", user.access_key_id,
        "--secret-stdin", "--header", "x-amz-meta-a=hv", "--title", "Fruits", stdin=secret_line,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    uid = re.search(r"Connection (co_[a-z0-9]+) \(aws_signature_v4\): valid\.", created.stdout).group(1)
    assert re.search(r"object\s+ok\s+The object fruits.csv is readable", created.stdout)

    shown = cli(home, allowed, "show", uid)
    public = json.loads(shown.stdout)
    assert public["auth"]["secret_access_key"] is None and public["headers"] == [
        {"name": "x-amz-meta-a", "value": None}
    ]
    listed = cli(home, allowed, "list")
    assert uid in listed.stdout and "Fruits" in listed.stdout

    wrong = cli(home, allowed, "update", uid, "--secret-stdin", stdin="wrong-secret\n")
    assert wrong.returncode == 0, wrong.stderr
    assert "NOT valid" in wrong.stdout and "[bad_signature]" in wrong.stdout
    failed = cli(home, allowed, "validate", uid)
    assert failed.returncode == 1 and "[bad_signature]" in failed.stdout
    rotated = cli(home, allowed, "update", uid, "--secret-stdin", stdin=user.secret_access_key + "\n")
    assert "valid." in rotated.stdout and "NOT valid" not in rotated.stdout
    # the header value kept across updates that do not give headers
    assert json.loads(cli(home, allowed, "show", uid).stdout)["headers"][0]["name"] == "x-amz-meta-a"

    for run in (created, shown, listed, wrong, failed, rotated):
        assert user.secret_access_key not in run.stdout + run.stderr
    assert cli(home, allowed, "delete", uid).stdout.strip() == f"Deleted {uid}."
    missing = cli(home, allowed, "show", uid)
    assert missing.returncode == 1 and missing.stderr.startswith("error [connection_not_found]")
    bad = cli(home, allowed, "create", "--url", "http://169.254.169.254/latest/", "--region", "us-east-1",
              "--access-key-id", "AKIA", "--secret-stdin", stdin="s\n")  # fmt: skip
    assert bad.returncode == 1 and bad.stderr.startswith("error [private_address_refused]")


def test_connections_cli_iam_role(tmp_path: Path, iam_moto_server: IamMotoServer) -> None:
    from tests.integration.test_connections_iam_role import make_role

    platform = iam_moto_server.create_user(policy=allow(["sts:AssumeRole", "sts:GetCallerIdentity"], ["*"]))
    bucket = iam_moto_server.create_bucket()
    iam_moto_server.put_object(bucket, "fruits.csv", CSV)
    env = {
        "AWS_ACCESS_KEY_ID": platform.access_key_id,
        "AWS_SECRET_ACCESS_KEY": platform.secret_access_key,
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "DATAWHARF_STS_ENDPOINT_URL": iam_moto_server.endpoint_url,
        "DATAWHARF_DOMAIN": "clidomain",
    }
    home, allowed = tmp_path / "home", iam_moto_server.host_port
    created = cli(home, allowed, "create", "--auth", "iam_role", "--region", "us-east-1", extra_env=env)
    assert created.returncode == 0, created.stderr
    uid = re.search(r"Connection (co_[a-z0-9]+) \(iam_role\): NOT valid\.", created.stdout).group(1)
    account = platform.arn.split(":")[4]
    assert f"ods_aws_account_id: {account}" in created.stdout
    external_id = re.search(r"external_id:\s+(dw-clidomain-[0-9a-f-]{36})", created.stdout).group(1)
    assert (
        f'"AWS": "arn:aws:iam::{account}:root"' in created.stdout and "[role_arn_missing]" in created.stdout
    )

    url = f"{iam_moto_server.endpoint_url}/{bucket}/fruits.csv"
    policy = cli(home, allowed, "policy", uid, "--url", url, extra_env=env)
    assert f'"Resource": "arn:aws:s3:::{bucket}/fruits.csv"' in policy.stdout and external_id in policy.stdout

    role_arn = make_role(iam_moto_server, platform.arn, external_id, bucket, "fruits.csv")
    updated = cli(home, allowed, "update", uid, "--role-arn", role_arn, extra_env=env)
    assert updated.returncode == 0, updated.stderr
    assert (
        f"Connection {uid} (iam_role): valid." in updated.stdout
        and f"role_arn:           {role_arn}" in updated.stdout
    )
    validated = cli(home, allowed, "validate", uid, "--url", url, extra_env=env)
    assert validated.returncode == 0 and "The object fruits.csv is readable" in validated.stdout

    other = make_role(iam_moto_server, platform.arn, "dw-clidomain-other", bucket, "fruits.csv")
    refused = cli(home, allowed, "update", uid, "--role-arn", other, extra_env=env)
    assert refused.returncode == 1
    assert refused.stderr.startswith("error [role_not_assumable]: datawharf AWS account is not authorized")


def test_refused_options_are_one_line_without_the_secret(tmp_path: Path) -> None:
    """Options the input model refuses give ``error [validation_error]``, not a traceback quoting them."""
    secret = "cli-secret-typed-0123456789\n"
    headers = [arg for i in range(51) for arg in ("--header", f"x-amz-meta-h{i}=header-value-{i}")]
    cases = [
        ("create", "--region", "us-east-1", "--auth", "oauth", "--secret-stdin"),
        ("create", "--url", "https://example.com/bucket/", "--region", "us-east-1", "--access-key-id",
         "AKIAEXAMPLE", "--secret-stdin", *headers),
    ]  # fmt: skip
    for args in cases:
        refused = cli(tmp_path / "home", "", *args, stdin=secret)
        assert refused.returncode == 1
        assert refused.stderr.startswith("error [validation_error]: Invalid input in "), refused.stderr
        assert "Traceback" not in refused.stderr and "cli-secret-typed" not in refused.stderr
        assert "header-value" not in refused.stderr + refused.stdout
