"""Hostile S3 endpoints, over HTTP against a real ``datawharf serve``: echoed secrets, redirects, IMDS.

- An endpoint that echoes the request's headers (and the secret's encodings) in its error ``<Message>``:
  the secret comes back in no API answer, CLI output, backoffice page, stored validation report, the
  database file, or the server's log; the error keeps its code, the S3 code and the HTTP status.
- An endpoint that answers 301 ``PermanentRedirect`` / 307 to another host / a 302 loop: one request
  each, a specific 4xx (``wrong_region`` naming the region, ``redirect_refused``), the other host never
  asked, on the validation, preview and publish paths alike.
- No AWS credentials in the server's environment: creating an IAM-role connection says so, and asks
  the instance metadata service nothing unless ``DATAWHARF_AWS_INSTANCE_METADATA`` is on (the metadata
  endpoint is pointed at a loopback listener; 169.254.169.254 is never reached, and strace, where
  present, shows no connect() to it).
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest

from tests.hostile.conftest import serve_hostile
from tests.integration.test_connections_iam_role import make_role
from tests.support.app import BOOTSTRAP_KEY
from tests.support.hostile import API, HostileServer, attack, error_code
from tests.support.moto import IamMotoServer, MotoServer, allow
from tests.support.processes import serve_log
from tests.support.standins import Answer, Seen, StandIn, s3_error, standin

ACCESS_KEY = "AKIDSTANDIN0EXAMPLE"
SECRET_KEY = f"wJalrXUtnFEMI/K7MDENG+bPxRfiCY-{secrets.token_hex(6)}"
HEADER = "X-Dw-Tenant-Token"
HEADER_VALUE = f"tenant/{secrets.token_hex(8)}+=="


# Every csvfile parameter: a resource saved with all of them is not read at creation (missing ones are
# guessed from the object then), so the endpoint's misbehaviour meets the publish, as these tests want.
FULL_CSV_PARAMS = {
    "encoding": "utf-8",
    "separator": ",",
    "escapechar": None,
    "doublequote": True,
    "first_row_no": 1,
    "headers_first_row": True,
    "extract_filename": False,
}


def forms(secret: str) -> list[str]:
    """The secret and the encodings an echo turns it into."""
    raw = secret.encode()
    return [secret, quote(secret, safe=""), quote_plus(secret), base64.b64encode(raw).decode()]


SECRET_FORMS = forms(SECRET_KEY) + forms(HEADER_VALUE)


def echo(code: str, status: int) -> Any:
    """An endpoint that puts every request header (and the secrets' encodings) in its error message."""

    def behave(seen: Seen) -> Answer:
        # the secret-carrying headers first, so the message's bound does not hide them
        first = ("x-amz-security-token", HEADER.lower(), "authorization")
        ordered = sorted(seen.headers.items(), key=lambda item: item[0] not in first)
        echoed = "; ".join(f"{name}: {value}" for name, value in ordered)
        encoded = " ".join(forms(SECRET_KEY)[1:] + forms(HEADER_VALUE)[1:])
        message = f"Bad request. You sent {echoed}. Secret key {SECRET_KEY}, encoded {encoded}."
        ids = {"x-amz-request-id": HEADER_VALUE, "x-amz-id-2": f"host-{SECRET_KEY}"}
        return s3_error(status, code, message, ids, RequestId=HEADER_VALUE)

    return behave


def signatures(standin_server: StandIn) -> list[str]:
    """The SigV4 signatures datawharf sent (an echoed Authorization header would show them)."""
    found = []
    for seen in standin_server.seen:
        match = re.search(r"Signature=([0-9a-f]{64})", seen.headers.get("authorization", ""))
        if match:
            found.append(match.group(1))
    return found


def assert_clean(text: str, standin_server: StandIn, where: str) -> None:
    for form in SECRET_FORMS + signatures(standin_server):
        assert form not in text, f"{where} repeats a secret form {form[:12]}...: {text[:400]}"


# --- redirects --------------------------------------------------------------------------------------


def moved(_seen: Seen) -> Answer:
    return s3_error(
        301,
        "PermanentRedirect",
        "The bucket you are attempting to access must be addressed using the specified endpoint.",
        {"x-amz-bucket-region": "eu-west-3"},
        Endpoint="moved.s3.eu-west-3.amazonaws.com",
        Bucket="moved",
    )


def loop(seen: Seen) -> Answer:
    return Answer(302, {"Location": f"http://{seen.headers.get('host')}{seen.path}"})


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[StandIn]:
    """'Another host' (127.0.0.2), allowed like the stand-in: only the refusal keeps it unasked."""
    with standin({}, host="127.0.0.2") as server:
        yield server


@pytest.fixture(scope="module")
def endpoint(elsewhere: StandIn) -> Iterator[StandIn]:
    def away(seen: Seen) -> Answer:
        body = s3_error(307, "TemporaryRedirect", "Please re-send this request to the specified endpoint.")
        return Answer(307, {**body.headers, "Location": f"{elsewhere.endpoint_url}{seen.path}"}, body.body)

    behaviours = {
        "echo": echo("InvalidArgument", 400),
        "weird": echo("SomethingOdd", 403),
        "moved": moved,
        "away": away,
        "loop": loop,
    }
    with standin(behaviours) as server:
        yield server


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, moto_server: MotoServer, endpoint: StandIn, elsewhere: StandIn
) -> Iterator[HostileServer]:
    allowed = ",".join((moto_server.host_port, endpoint.host_port, elsewhere.host_port))
    env = {"DATAWHARF_ALLOWED_PRIVATE_HOSTS": allowed, "DATAWHARF_S3_MAX_ATTEMPTS": "2"}
    with serve_hostile(tmp_path_factory.mktemp("s3-upstream") / "home", moto_server, env) as running:
        yield running


def sigv4_connection(client: httpx.Client, url: str) -> httpx.Response:
    return client.post(
        f"{API}/datasource_connections/",
        json={
            "type": "amazon_s3",
            "title": "stand-in",
            "url": url,
            "auth": {
                "type": "aws_signature_v4",
                "access_key_id": ACCESS_KEY,
                "secret_access_key": SECRET_KEY,
                "region": "us-east-1",
            },
            "headers": [{"name": HEADER, "value": HEADER_VALUE}],
        },
    )


@pytest.fixture(scope="module")
def connection(server: HostileServer, endpoint: StandIn) -> str:
    with server.client() as client:
        created = sigv4_connection(client, endpoint.endpoint_url)
    assert created.status_code == 201, created.text
    return str(created.json()["uid"])


@pytest.fixture(scope="module")
def dataset(server: HostileServer) -> str:
    with server.client() as client:
        created = client.post(f"{API}/datasets/", json={"metadata": {"default": {"title": {"value": "H"}}}})
    assert created.status_code == 201, created.text
    return str(created.json()["uid"])


def cli(server: HostileServer, allowed: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "DATAWHARF_HOME": str(server.home),
        "DATAWHARF_ALLOWED_PRIVATE_HOSTS": allowed,
        "DATAWHARF_S3_MAX_ATTEMPTS": "1",
        "PATH": "/usr/bin:/bin",
        "COLUMNS": "250",
        **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "datawharf", *args], env=env, capture_output=True, text=True, timeout=120
    )


def backoffice_page(server: HostileServer, path: str) -> str:
    with httpx.Client(base_url=server.base_url, timeout=30.0) as browser:
        form = browser.get("/backoffice/sign-in").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token is not None
        browser.post("/backoffice/sign-in", data={"api_key": BOOTSTRAP_KEY, "csrf_token": token.group(1)})
        page = browser.get(path)
    assert page.status_code == 200, page.text[:300]
    return page.text


ECHOES = [
    ("echo", "invalid_request", "InvalidArgument", 400),
    ("weird", "s3_error", "SomethingOdd", 403),
]


@pytest.mark.parametrize(("bucket", "code"), [(bucket, code) for bucket, code, _s3_code, _status in ECHOES])
def test_an_echoed_secret_comes_back_nowhere(
    server: HostileServer, endpoint: StandIn, bucket: str, code: str
) -> None:
    url = f"{endpoint.endpoint_url}/{bucket}/data.csv"
    endpoint.clear()
    with (
        attack(server, f"s3-echo-secrets-{bucket}", max_seconds=10.0, rss_budget_mib=400) as record,
        server.client() as client,
    ):
        created = sigv4_connection(client, url)
        record.notes.update(status=created.status_code, requests=len(endpoint.seen))
        uid = created.json()["uid"]
        shown = client.get(f"{API}/datasource_connections/{uid}/")
        validated = client.post(f"{API}/datasource_connections/{uid}/validate/")
    assert created.status_code == 201, created.text
    failed = [step for step in created.json()["validation"]["steps"] if step["ok"] is False]
    assert [(step["name"], step["error_code"]) for step in failed] == [("object", code)]
    message = failed[0]["message"]
    assert "[redacted]" in message and len(message) < 700, message
    assert endpoint.requests_for(bucket), "the stand-in was never asked"
    for answer in (created, shown, validated):
        assert_clean(answer.text, endpoint, "the API")

    allowed = endpoint.host_port
    show = cli(server, allowed, "connections", "show", uid)
    assert show.returncode == 0, show.stderr
    assert_clean(show.stdout + show.stderr, endpoint, "connections show")
    preview = cli(server, allowed, "preview", "--connection", uid, url)
    assert preview.returncode == 1 and f"[{code}]" in preview.stderr, preview.stderr
    assert "Traceback" not in preview.stderr
    assert_clean(preview.stdout + preview.stderr, endpoint, "datawharf preview")
    assert_clean(backoffice_page(server, f"/backoffice/connections/{uid}"), endpoint, "the backoffice")

    database = server.home / "datawharf.db"
    with sqlite3.connect(database) as db:
        (stored,) = db.execute("SELECT validation FROM connections WHERE uid = ?", (uid,)).fetchone()
    report = json.loads(stored)
    assert [s["error_code"] for s in report["steps"] if s["ok"] is False] == [code]
    assert_clean(stored, endpoint, "the stored validation report")
    for path in server.home.glob("datawharf.db*"):  # the DB file (and its journal): no clear secret at all
        content = path.read_bytes()
        for form in SECRET_FORMS:
            assert form.encode() not in content, f"{path.name} holds a secret form in clear"
    assert_clean(serve_log(server.home).read_text(), endpoint, "the server log")


@pytest.mark.parametrize(("bucket", "code", "s3_code", "status"), ECHOES)
def test_an_echoed_secret_in_an_api_error_comes_back_scrubbed_with_its_codes(
    server: HostileServer,
    endpoint: StandIn,
    connection: str,
    dataset: str,
    bucket: str,
    code: str,
    s3_code: str,
    status: int,
) -> None:
    endpoint.clear()
    datasource = {
        "type": "amazon_s3",
        "url": f"{endpoint.endpoint_url}/{bucket}/data.csv",
        "connection": {"uid": connection},
    }
    with (
        attack(
            server, f"s3-echo-secrets-preview-api-{bucket}", max_seconds=10.0, rss_budget_mib=400
        ) as record,
        server.client() as client,
    ):
        answer = client.post(f"{API}/datasets/{dataset}/resources/preview/", json={"datasource": datasource})
        record.notes.update(status=answer.status_code, code=error_code(answer), requests=len(endpoint.seen))
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["error_code"] == code
    assert body["detail"]["s3_error_code"] == s3_code and body["detail"]["http_status"] == status
    assert "[redacted]" in body["detail"]["s3_message"] and len(body["detail"]["s3_message"]) <= 300
    assert body["detail"]["request_id"] == "[redacted]" and body["detail"]["host_id"] == "host-[redacted]"
    assert_clean(answer.text, endpoint, "the preview API")


def test_an_echoed_secret_in_a_publish_failure_is_scrubbed(
    server: HostileServer, endpoint: StandIn, connection: str
) -> None:
    with server.client() as client:
        uid = client.post(
            f"{API}/datasets/", json={"metadata": {"default": {"title": {"value": "E"}}}}
        ).json()["uid"]
        datasource = {
            "type": "amazon_s3",
            "url": f"{endpoint.endpoint_url}/echo/data.csv",
            "connection": {"uid": connection},
        }
        resource = client.post(
            f"{API}/datasets/{uid}/resources/",
            json={"type": "csvfile", "title": "echo", "params": FULL_CSV_PARAMS, "datasource": datasource},
        )
        assert resource.status_code == 201, resource.text
        with attack(server, "s3-echo-secrets-publish", max_seconds=20.0, rss_budget_mib=400) as record:
            assert client.post(f"{API}/datasets/{uid}/publish/").status_code == 200
            status = wait_done(client, uid)
            record.notes.update(status=status["status"])
        shown = client.get(f"{API}/datasets/{uid}/status/")
    assert status["status"] == "error" and "[invalid_request]" in shown.text, shown.text
    assert_clean(shown.text, endpoint, "the dataset status")
    with sqlite3.connect(server.home / "datawharf.db") as db:
        for table, column in (("datasets", "*"),):
            rows = db.execute(f"SELECT {column} FROM {table} WHERE uid = ?", (uid,)).fetchall()
            assert_clean(repr(rows), endpoint, f"the stored {table} row")


def test_an_echoed_session_token_of_an_assumed_role_comes_back_nowhere(
    tmp_path: Path, moto_server: MotoServer, iam_moto_server: IamMotoServer, endpoint: StandIn
) -> None:
    """An IAM-role connection signs with temporary keys and sends their session token: echoed, scrubbed."""
    platform = iam_moto_server.create_user(policy=allow(["sts:AssumeRole", "sts:GetCallerIdentity"], ["*"]))
    env = {
        "AWS_ACCESS_KEY_ID": platform.access_key_id,
        "AWS_SECRET_ACCESS_KEY": platform.secret_access_key,
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "DATAWHARF_STS_ENDPOINT_URL": iam_moto_server.endpoint_url,
        "DATAWHARF_ALLOWED_PRIVATE_HOSTS": f"{moto_server.host_port},{endpoint.host_port}",
    }
    url = f"{endpoint.endpoint_url}/echo/role.csv"
    with serve_hostile(tmp_path / "home", moto_server, env) as running, running.client() as client:
        body = {
            "type": "amazon_s3",
            "url": url,
            "auth": {"type": "iam_role", "region": "us-east-1", "role_arn": ""},
        }
        created = client.post(f"{API}/datasource_connections/", json=body)
        assert created.status_code == 201, created.text
        connection = created.json()
        role_arn = make_role(
            iam_moto_server, platform.arn, connection["auth"]["external_id"], "echo", "role.csv"
        )
        endpoint.clear()
        with attack(running, "s3-echo-session-token", max_seconds=10.0, rss_budget_mib=400) as record:
            update = {**connection, "auth": {**connection["auth"], "role_arn": role_arn}}
            updated = client.put(f"{API}/datasource_connections/{connection['uid']}/", json=update)
            record.notes.update(status=updated.status_code, requests=len(endpoint.seen))
        tokens = [seen.headers["x-amz-security-token"] for seen in endpoint.requests_for("echo")]
        assert tokens, "the stand-in never saw a session token"
        with sqlite3.connect(running.home / "datawharf.db") as db:
            (stored,) = db.execute(
                "SELECT validation FROM connections WHERE uid = ?", (connection["uid"],)
            ).fetchone()
        log = serve_log(running.home).read_text()
    assert updated.status_code == 200, updated.text
    steps = {step["name"]: step for step in updated.json()["validation"]["steps"]}
    assert steps["assume_role"]["ok"] is True and steps["object"]["error_code"] == "invalid_request"
    assert "[redacted]" in steps["object"]["message"]
    for text, where in ((updated.text, "the API"), (stored, "the stored report"), (log, "the server log")):
        for form in {form for token in tokens for form in forms(token)}:
            assert form not in text, f"{where} repeats the session token"
        assert_clean(text, endpoint, where)


# --- redirects --------------------------------------------------------------------------------------

REDIRECTS = [
    ("moved", "wrong_region", 301),
    ("away", "redirect_refused", 307),
    ("loop", "redirect_refused", 302),
]


def redirect_checks(body: dict[str, Any], bucket: str, code: str, status: int, elsewhere: StandIn) -> None:
    assert body["error_code"] == code, body
    if code == "wrong_region":
        assert body["detail"]["region"] == "eu-west-3" and "eu-west-3" in body["message"]
    else:
        assert body["detail"]["http_status"] == status, body
        assert "does not follow" in body["message"]
    if bucket == "away":
        assert body["detail"]["redirect_host"] == "127.0.0.2"


@pytest.mark.parametrize(("bucket", "code", "status"), REDIRECTS)
def test_a_redirect_on_validation_is_refused_after_one_request(
    server: HostileServer,
    endpoint: StandIn,
    elsewhere: StandIn,
    connection: str,
    bucket: str,
    code: str,
    status: int,
) -> None:
    endpoint.clear()
    elsewhere.clear()
    with attack(server, f"s3-redirect-validate-{bucket}", max_seconds=10.0, rss_budget_mib=400) as record:
        with server.client() as client:
            answer = client.post(
                f"{API}/datasource_connections/{connection}/validate/", params={"url": f"/{bucket}/data.csv"}
            )
        record.notes.update(
            status=answer.status_code, requests=len(endpoint.seen), elsewhere=len(elsewhere.seen)
        )
    assert answer.status_code == 200, answer.text
    failed = [step for step in answer.json()["validation"]["steps"] if step["ok"] is False]
    assert [step["error_code"] for step in failed] == [code]
    if code == "wrong_region":
        assert "eu-west-3" in failed[0]["message"]
    assert len(endpoint.requests_for(bucket)) == 1
    assert elsewhere.seen == []


@pytest.mark.parametrize(("bucket", "code", "status"), REDIRECTS)
def test_a_redirect_on_preview_is_refused_after_one_request(
    server: HostileServer,
    endpoint: StandIn,
    elsewhere: StandIn,
    connection: str,
    dataset: str,
    bucket: str,
    code: str,
    status: int,
) -> None:
    endpoint.clear()
    elsewhere.clear()
    datasource = {
        "type": "amazon_s3",
        "url": f"{endpoint.endpoint_url}/{bucket}/data.csv",
        "connection": {"uid": connection},
    }
    with attack(server, f"s3-redirect-preview-{bucket}", max_seconds=10.0, rss_budget_mib=400) as record:
        with server.client() as client:
            answer = client.post(
                f"{API}/datasets/{dataset}/resources/preview/", json={"datasource": datasource}
            )
        record.notes.update(status=answer.status_code, code=error_code(answer), requests=len(endpoint.seen),
                            elsewhere=len(elsewhere.seen))  # fmt: skip
    assert answer.status_code == 400, answer.text
    redirect_checks(answer.json(), bucket, code, status, elsewhere)
    assert len(endpoint.requests_for(bucket)) == 1
    assert elsewhere.seen == []


def wait_done(client: httpx.Client, uid: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"{API}/datasets/{uid}/status/").json()
        if status["status"] in ("idle", "error"):
            return dict(status)
        time.sleep(0.1)
    raise AssertionError(f"still {status['status']} after {timeout}s")


@pytest.mark.parametrize(("bucket", "code", "status"), REDIRECTS)
def test_a_redirect_on_publish_is_refused_after_one_request(
    server: HostileServer,
    endpoint: StandIn,
    elsewhere: StandIn,
    connection: str,
    bucket: str,
    code: str,
    status: int,
) -> None:
    with server.client() as client:
        created = client.post(
            f"{API}/datasets/", json={"metadata": {"default": {"title": {"value": bucket}}}}
        )
        uid = created.json()["uid"]
        datasource = {
            "type": "amazon_s3",
            "url": f"{endpoint.endpoint_url}/{bucket}/data.csv",
            "connection": {"uid": connection},
        }
        resource = client.post(
            f"{API}/datasets/{uid}/resources/",
            json={"type": "csvfile", "title": bucket, "params": FULL_CSV_PARAMS, "datasource": datasource},
        )
        assert resource.status_code == 201, resource.text
        endpoint.clear()
        elsewhere.clear()
        with attack(server, f"s3-redirect-publish-{bucket}", max_seconds=20.0, rss_budget_mib=400) as record:
            published = client.post(f"{API}/datasets/{uid}/publish/")
            assert published.status_code == 200, published.text
            status_body = wait_done(client, uid)
            record.notes.update(
                status=status_body["status"], requests=len(endpoint.seen), elsewhere=len(elsewhere.seen)
            )
    assert status_body["status"] == "error", status_body
    assert f"[{code}]" in json.dumps(status_body), status_body
    assert "RecursionError" not in json.dumps(status_body)
    assert len(endpoint.requests_for(bucket)) == 1
    assert elsewhere.seen == []


# --- datawharf's own credentials and the metadata service ------------------------------------------


@pytest.fixture
def metadata_service() -> Iterator[StandIn]:
    """A stand-in for the instance metadata service: a token, then no role (404)."""

    def imds(seen: Seen) -> Answer:
        if seen.method == "PUT":
            return Answer(200, {"x-aws-ec2-metadata-token-ttl-seconds": "21600"}, b"stand-in-token")
        return Answer(404, {}, b"")

    with standin({"latest": imds}) as server:
        yield server


def _connect_trace_available() -> bool:
    return shutil.which("strace") is not None


@pytest.mark.parametrize("metadata_on", [False, True])
def test_own_credentials_never_ask_the_metadata_service_unless_the_setting_is_on(
    tmp_path: Path,
    moto_server: MotoServer,
    iam_moto_server: IamMotoServer,
    metadata_service: StandIn,
    metadata_on: bool,
) -> None:
    env = {
        # The environment has no AWS credentials and no profile; the metadata endpoint is a loopback
        # listener, so even a broken build never reaches 169.254.169.254.
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": f"{metadata_service.endpoint_url}/",
        "DATAWHARF_STS_ENDPOINT_URL": iam_moto_server.endpoint_url,
        "DATAWHARF_AWS_INSTANCE_METADATA": "true" if metadata_on else "false",
    }
    with serve_hostile(tmp_path / "home", moto_server, env) as running:
        trace = tmp_path / "connect.trace"
        tracer = None
        if _connect_trace_available():
            tracer = subprocess.Popen(
                [
                    "strace",
                    "-f",
                    "-qq",
                    "-e",
                    "trace=connect",
                    "-o",
                    str(trace),
                    "-p",
                    str(running.process.pid),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(0.5)  # attached before the attack
        try:
            with attack(
                running,
                f"iam-role-no-credentials-metadata-{'on' if metadata_on else 'off'}",
                max_seconds=10.0,
                rss_budget_mib=400,
            ) as record:
                with running.client() as client:
                    answer = client.post(
                        f"{API}/datasource_connections/",
                        json={
                            "type": "amazon_s3",
                            "auth": {"type": "iam_role", "region": "us-east-1", "role_arn": ""},
                        },
                    )
                record.notes.update(
                    status=answer.status_code,
                    code=error_code(answer),
                    metadata_requests=len(metadata_service.seen),
                )
        finally:
            if tracer is not None:
                tracer.terminate()
                tracer.wait(timeout=10)
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["error_code"] == "datawharf_credentials_missing"
    assert "AWS_ACCESS_KEY_ID" in body["message"] and "DATAWHARF_AWS_INSTANCE_METADATA" in body["message"]
    if metadata_on:
        assert metadata_service.seen, "the setting is on: the metadata service should have been asked"
    else:
        assert metadata_service.seen == []
        assert "is off" in body["message"]
    if tracer is not None and trace.exists():
        connects = trace.read_text()
        assert "169.254.169.254" not in connects
        port = metadata_service.server_address[1]
        assert (f"htons({port})" in connects) is metadata_on
