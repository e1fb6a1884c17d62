"""``datawharf connections ...`` as a user runs it: a subprocess, the secret on stdin, never in argv."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support.cli import after_target_line
from tests.support.moto import IamMotoServer, MotoServer, allow

CSV = b"name,qty\napple,3\n"


def cli(
    home: Path, allowed: str, *args: str, stdin: str = "", extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        "DATAWHARF_HOME": str(home),
        "DATAWHARF_ALLOWED_PRIVATE_HOSTS": allowed,
        "DATAWHARF_S3_MAX_ATTEMPTS": "1",
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),  # a worktree's sources, when the run sets them
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

    # The secret on stdin, the header's value at its (hidden) prompt: neither in argv.
    lines = user.secret_access_key + "\nhv\n"
    created = cli(
        home, allowed, "create", "--url", url, "--region", "us-east-1", "--access-key-id", user.access_key_id,
        "--secret-stdin", "--header", "x-amz-meta-a", "--title", "Fruits", stdin=lines,
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
    assert missing.returncode == 1 and after_target_line(missing.stderr).startswith(
        "error [connection_not_found]"
    )
    bad = cli(home, allowed, "create", "--url", "http://169.254.169.254/latest/", "--region", "us-east-1",
              "--access-key-id", "AKIA", "--secret-stdin", stdin="s\n")  # fmt: skip
    assert bad.returncode == 1 and after_target_line(bad.stderr).startswith("error [private_address_refused]")


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
    # A connection without a URL reaches AWS S3 only (its scope): this one names the test server's object.
    connection_url = f"{iam_moto_server.endpoint_url}/{bucket}/fruits.csv"
    created = cli(home, allowed, "create", "--auth", "iam_role", "--region", "us-east-1",
                  "--url", connection_url, extra_env=env)  # fmt: skip
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
    assert after_target_line(refused.stderr).startswith(
        "error [role_not_assumable]: datawharf AWS account is not authorized"
    )


def test_refused_options_are_one_line_without_the_secret(tmp_path: Path) -> None:
    """Options the input model refuses give ``error [validation_error]``, not a traceback quoting them."""
    secret = "cli-secret-typed-0123456789\n"
    header_file = tmp_path / "headers"
    header_file.write_text("".join(f"x-amz-meta-h{i}: header-value-{i}\n" for i in range(51)))
    cases = [
        ("create", "--region", "us-east-1", "--auth", "oauth", "--secret-stdin"),
        ("create", "--url", "https://example.com/bucket/", "--region", "us-east-1", "--access-key-id",
         "AKIAEXAMPLE", "--secret-stdin", "--header-file", str(header_file)),
    ]  # fmt: skip
    for args in cases:
        refused = cli(tmp_path / "home", "", *args, stdin=secret)
        assert refused.returncode == 1
        assert after_target_line(refused.stderr).startswith("error [validation_error]: Invalid input in "), (
            refused.stderr
        )
        assert "Traceback" not in refused.stderr and "cli-secret-typed" not in refused.stderr
        assert "header-value" not in refused.stderr + refused.stdout


ARGV_SECRETS = [
    ("--header", "x-amz-meta-token=argv-secret-0123456789", "The value of the header x-amz-meta-token"),
    ("--secret-access-key", "argv-secret-0123456789", "The secret access key"),
    ("--secret", "argv-secret-0123456789", "The secret access key"),
]


def test_a_secret_in_argv_is_refused_naming_the_safe_forms(tmp_path: Path) -> None:
    """``ps`` shows every argument to every user: a value there is refused before anything is read."""
    create = ("create", "--region", "us-east-1", "--access-key-id", "AKIA")
    runs = [(create, *case) for case in ARGV_SECRETS] + [(("update", "co_x"), *ARGV_SECRETS[0])]
    for command, option, value, what in runs:
        refused = cli(tmp_path / "home", "", *command, option, value, stdin="s\n")
        assert refused.returncode == 1, refused.stdout
        assert after_target_line(refused.stderr).startswith(
            f"error [secret_in_argv]: {what} was given on the command line"
        )
        assert "argv-secret" not in refused.stdout + refused.stderr
        assert "--secret-stdin" in refused.stderr or "--header-file" in refused.stderr
    listed = cli(tmp_path / "home", "", "list")
    assert "co_" not in listed.stdout  # nothing was saved


def test_secrets_from_files_and_prompts(tmp_path: Path, moto_server: MotoServer) -> None:
    bucket = moto_server.create_bucket()
    moto_server.put_object(bucket, "f.csv", CSV)
    secret_file, header_file = tmp_path / "secret", tmp_path / "headers"
    secret_file.write_text("file-secret-0123456789\n")
    header_file.write_text("# extra headers\nx-amz-meta-one: first value\n\nx-amz-meta-two:second\n")
    home, allowed = tmp_path / "home", moto_server.host_port
    created = cli(
        home, allowed, "create", "--url", f"{moto_server.endpoint_url}/{bucket}/f.csv", "--region",
        "us-east-1", "--access-key-id", "AKIAFILE", "--secret-file", str(secret_file),
        "--header-file", str(header_file), "--header", "x-amz-meta-three", "--json", stdin="prompted\n",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    public = json.loads(created.stdout[created.stdout.index("{") :])
    assert [h["name"] for h in public["headers"]] == ["x-amz-meta-three", "x-amz-meta-one", "x-amz-meta-two"]
    assert public["validation"]["is_valid"], public["validation"]
    for secret in ("file-secret", "first value", "second", "prompted"):
        assert secret not in created.stdout + created.stderr

    broken = tmp_path / "broken"
    broken.write_text("x-amz-meta-ok: 1\nAuthorization Bearer line-secret-0123\n")
    refused = cli(home, allowed, "update", public["uid"], "--header-file", str(broken))
    assert refused.returncode == 1
    assert after_target_line(refused.stderr).startswith("error [invalid_header]: Line 2 of the header file")
    assert "line-secret" not in refused.stderr
    missing = cli(home, allowed, "update", public["uid"], "--secret-file", str(tmp_path / "nope"))
    assert missing.returncode == 1 and after_target_line(missing.stderr).startswith(
        "error [unreadable_secret_file]"
    )
    both = cli(home, allowed, "update", public["uid"], "--secret-stdin", "--header-file", "-")
    assert both.returncode == 1 and after_target_line(both.stderr).startswith("error [invalid_option]")
