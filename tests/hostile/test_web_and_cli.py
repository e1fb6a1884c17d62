"""Hostile callers of the backoffice, the CLI and the HTTP edge (issue 12, items 4 and 9), replayed against a
real ``datawharf serve``: a cross-site GET makes no request with a connection's secrets, sign-out ends the
session on the server, secrets typed in the wrong place are never echoed nor logged, hosts and codecs
botocore or Python cannot use are specific 400s, and an oversized request head is our JSON error.

"Elsewhere" is a TCP listener of this module, allowed as a private host, which counts the connections
datawharf opens to it: the outbound request a forged link would cause is seen, not guessed.
"""

from __future__ import annotations

import json
import os
import re
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.hostile.conftest import serve_hostile
from tests.support.app import BOOTSTRAP_KEY
from tests.support.hostile import API, EXPLORE, HostileServer, attack, error_code
from tests.support.moto import MotoServer, S3Bucket
from tests.support.processes import serve_log

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYHOSTILEKEY"


class Elsewhere:
    """A listener standing for another site's server: it counts connections and answers 403."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                except OSError:
                    pass

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.sock.close()
        self._thread.join(timeout=5)


@dataclass
class Site:
    server: HostileServer
    elsewhere: Elsewhere
    bucket: S3Bucket
    moto: MotoServer


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, moto_server: MotoServer) -> Iterator[Site]:
    elsewhere = Elsewhere()
    env = {
        "DATAWHARF_ALLOWED_PRIVATE_HOSTS": f"{moto_server.host_port},127.0.0.1:{elsewhere.port}",
        "DATAWHARF_S3_MAX_ATTEMPTS": "1",
    }
    try:
        with serve_hostile(tmp_path_factory.mktemp("web-cli") / "home", moto_server, env) as server:
            yield Site(server, elsewhere, S3Bucket(moto_server, moto_server.create_bucket()), moto_server)
    finally:
        elsewhere.close()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


@contextmanager
def browser(server: HostileServer) -> Iterator[httpx.Client]:
    """An admin's browser, signed in to the backoffice (a cookie, no API key header)."""
    with server.client(admin=False) as client:
        client.follow_redirects = True
        token = csrf_of(client.get("/backoffice/sign-in").text)
        signed = client.post("/backoffice/sign-in", data={"api_key": BOOTSTRAP_KEY, "csrf_token": token})
        assert signed.status_code == 200 and "Sign out" in signed.text
        yield client


def connection_to(server: HostileServer, url: str) -> str:
    with server.client() as api:
        created = api.post(
            f"{API}/datasource_connections/",
            json={
                "url": url,
                "auth": {
                    "type": "aws_signature_v4",
                    "access_key_id": "AKIAHOSTILE",
                    "secret_access_key": SECRET,
                    "region": "us-east-1",
                },
            },
        )
    assert created.status_code == 201, created.text
    return str(created.json()["uid"])


# -- item 4: cross-site requests --------------------------------------------------------------------


def test_a_cross_site_link_to_the_preview_makes_no_request(site: Site) -> None:
    connection = connection_to(site.server, f"{site.elsewhere.url}/bucket/")  # its validation calls out
    with browser(site.server) as admin:
        before = site.elsewhere.connections
        link = (
            f"/backoffice/datasets/new/preview?connection={connection}&url={site.elsewhere.url}/bucket/a.csv"
        )
        with attack(site.server, "web: cross-site GET of the preview", max_seconds=5.0) as record:
            answer = admin.get(link)
            time.sleep(0.3)
            record.notes.update(status=answer.status_code, outbound=site.elsewhere.connections - before)
        assert answer.status_code == 200 and answer.url.path == "/backoffice/datasets/new/amazon-s3"
        assert 'id="preview-table"' not in answer.text
        assert site.elsewhere.connections == before, "a GET made datawharf connect elsewhere"

        form = {"connection": connection, "url": "a.csv", "type": "csvfile"}
        with attack(site.server, "web: cross-site POST of the preview (no token)", max_seconds=5.0) as record:
            forged = admin.post("/backoffice/datasets/new/preview", data=form)
            record.notes.update(status=forged.status_code, outbound=site.elsewhere.connections - before)
        assert forged.status_code == 403 and "security token" in forged.text
        assert site.elsewhere.connections == before

        # The control: the same POST from our own page, with its token, does read (and so is seen).
        token = csrf_of(admin.get("/backoffice/datasets/new/amazon-s3").text)
        own = admin.post("/backoffice/datasets/new/preview", data={**form, "csrf_token": token})
        assert own.status_code == 200 and "No preview." in own.text
        assert site.elsewhere.connections > before
        assert SECRET not in own.text


def test_an_old_cookie_no_longer_works_after_sign_out(site: Site) -> None:
    with browser(site.server) as admin:
        stolen = dict(admin.cookies)
        page = admin.get("/backoffice/datasets/")
        out = admin.post("/backoffice/sign-out", data={"csrf_token": csrf_of(page.text)})
        assert out.url.path == "/backoffice/sign-in"
    with (
        attack(site.server, "web: replay a signed-out cookie", max_seconds=5.0) as record,
        site.server.client(admin=False) as thief,
    ):
        for name, value in stolen.items():
            thief.cookies.set(name, value, path="/backoffice")
        replayed = thief.get("/backoffice/connections/", follow_redirects=False)
        record.notes["status"] = replayed.status_code
    assert replayed.status_code == 303
    assert replayed.headers["location"].startswith("/backoffice/sign-in")


# -- item 9: smaller leaks and 500s ------------------------------------------------------------------


def test_a_secret_typed_as_the_region_is_never_echoed(site: Site) -> None:
    """Nor a ``Name: value`` line pasted as a header's name: the refused form comes back without them."""
    body = {
        "url": site.moto.endpoint_url,
        "auth": {
            "type": "aws_signature_v4",
            "access_key_id": "AKIA",
            "secret_access_key": "x",
            "region": SECRET,
        },
    }
    with (
        attack(site.server, "api+web: a secret typed as the region", max_seconds=5.0) as record,
        site.server.client() as api,
        browser(site.server) as admin,
    ):
        refused = api.post(f"{API}/datasource_connections/", json=body)
        token = csrf_of(admin.get("/backoffice/connections/new?method=aws_signature_v4").text)
        form = admin.post(
            "/backoffice/connections/new",
            data={"csrf_token": token, "method": "aws_signature_v4", "url": site.moto.endpoint_url,
                  "region": SECRET, "access_key_id": "AKIA", "secret_access_key": "x",
                  "header_name": f"Authorization: Bearer {SECRET}", "header_value": ""},
        )  # fmt: skip
        record.notes.update(api=[refused.status_code, error_code(refused)], web=form.status_code)
    assert (refused.status_code, error_code(refused)) == (400, "malformed_region")
    assert "lowercase letters, digits and hyphens" in refused.json()["message"]
    assert form.status_code == 400 and "lowercase letters, digits and hyphens" in form.text
    for text in (refused.text, form.text):
        assert SECRET not in text and SECRET.replace("/", "&#x2f;") not in text


MISSPELLED = ["APIKEY", "api_key", "api-key", "Api-Key", "apiKey", "api.key", "api+key", "%61pi%5Fkey",
              "apikey[]", "access_token", "token", "X-Amz-Signature", "password"]  # fmt: skip


def test_misspelled_api_keys_never_reach_the_access_log(site: Site) -> None:
    with attack(site.server, "log: misspelled apikey parameters", max_seconds=10.0) as record:
        with site.server.client(admin=False) as client:
            statuses = [
                client.get(f"{EXPLORE}/catalog/datasets?limit=1&{name}=leaked-{n}-0123456789").status_code
                for n, name in enumerate(MISSPELLED)
            ]
        time.sleep(0.3)  # the access log line is written after the answer
        record.notes["statuses"] = sorted(set(statuses))
    log = serve_log(site.server.home).read_text()
    assert "catalog/datasets?limit=1&APIKEY=[redacted]" in log
    assert "leaked-" not in log


HOSTS = [
    "http://127%2e0.0.1/bucket/key.csv",
    "http://127.0.0.1%2e:9000/bucket/key.csv",
    "http://bucket\u3002example\u3002com/bucket/key.csv",
    "http://bucket\uff0eexample\uff0ecom/bucket/key.csv",
    "http://b\u00fccher.example/bucket/key.csv",
    "http://under_score.example/bucket/key.csv",
]


def test_unusable_hosts_and_codecs_are_specific_400s(site: Site) -> None:
    site.bucket.put("plain.csv", b"a,b\n1,2\n")
    with site.server.client() as api:
        dataset = api.post(f"{API}/datasets/", json={"metadata": {"default": {"title": {"value": "H"}}}})
        preview = f"{API}/datasets/{dataset.json()['uid']}/resources/preview/"
        answers = []
        with attack(
            site.server, "api: percent-encoded / ideographic-dot / IDNA hosts", max_seconds=10.0
        ) as rec:
            for url in HOSTS:
                answer = api.post(preview, json={"datasource": {"type": "amazon_s3", "url": url}})
                answers.append((answer.status_code, error_code(answer)))
                created = api.post(
                    f"{API}/datasource_connections/",
                    json={"url": url, "auth": {"type": "iam_role", "region": "us-east-1"}},
                )
                answers.append((created.status_code, error_code(created)))
            rec.notes["answers"] = sorted(set(answers))
        assert set(answers) == {(400, "invalid_host")}
        connection = connection_to(site.server, site.moto.endpoint_url)
        source = {"type": "amazon_s3", "url": site.bucket.url("plain.csv"), "connection": {"uid": connection}}
        codes = []
        with attack(
            site.server, "api: encoding=zlib_codec and other non-text codecs", max_seconds=10.0
        ) as rec:
            for codec in ("zlib_codec", "base64_codec", "bz2_codec", "hex_codec", "rot13", "uu_codec"):
                answer = api.post(preview, json={"datasource": source, "type": "csvfile",
                                                 "params": {"encoding": codec}})  # fmt: skip
                codes.append((answer.status_code, error_code(answer)))
            rec.notes["answers"] = sorted(set(codes))
        # Parameters are checked where they are given (one code for them all, issue 13): a codec that is
        # not a character encoding never reaches the extractor.
        assert set(codes) == {(400, "invalid_params")}


def raw_request(server: HostileServer, head: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``head`` on a plain socket (no client library trims it) and read the whole answer."""
    port = int(server.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        # In pieces, stopping once an answer is waiting: writing on after the server has closed would
        # make its kernel reset the connection, and the answer could be lost with it.
        for start in range(0, len(head), 64 * 1024):
            if select.select([sock], [], [], 0)[0]:
                break
            try:
                sock.sendall(head[start : start + 64 * 1024])
            except (BrokenPipeError, ConnectionResetError):
                break
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    status_line, _, rest = b"".join(chunks).partition(b"\r\n")
    header_block, _, body = rest.partition(b"\r\n\r\n")
    headers = dict(line.decode().lower().split(": ", 1) for line in header_block.split(b"\r\n") if line)
    return int(status_line.split()[1]), headers, body


OVERSIZED = [
    ("query string of 70 kB", b"GET /api/explore/v2.1/catalog/datasets/?where=" + b"a" * 70_000
     + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "request_line_too_long"),
    ("one header of 200 kB", b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n",
     431, "request_headers_too_large"),
    ("20 000 small headers", b"GET /health HTTP/1.1\r\nHost: x\r\n"
     + b"".join(b"X-%d: a\r\n" % i for i in range(20_000)) + b"\r\n", 431, "request_headers_too_large"),
    ("8 MB of headers", b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * 8_000_000 + b"\r\n\r\n",
     431, "request_headers_too_large"),
    ("not HTTP", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03 TLS to a plain port\r\n\r\n", 400,
     "malformed_request"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "head", "status", "code"), OVERSIZED, ids=[case[0] for case in OVERSIZED])
def test_an_oversized_or_broken_request_head_gets_our_json_error(
    site: Site, name: str, head: bytes, status: int, code: str
) -> None:
    with attack(site.server, f"http: {name}", max_seconds=5.0, rss_budget_mib=400) as record:
        answer_status, headers, body = raw_request(site.server, head)
        record.notes.update(request_bytes=len(head), status=answer_status)
    assert answer_status == status
    assert headers["content-type"] == "application/json"
    answer = json.loads(body)
    assert answer["error_code"] == code and answer["message"]
    assert record.peak_mib - record.rss_before_mib < 8, "the head was buffered instead of refused"


def test_a_query_under_the_limit_and_a_large_body_still_reach_the_app(site: Site) -> None:
    """The bound is on the head only: a 20 kB query and a 600 kB body (sent with its head in the same
    reads) are the app's to answer."""
    with site.server.client() as client:
        query = client.get(f"{EXPLORE}/catalog/datasets", params={"where": "a" * 20_000})
        body = {"metadata": {"default": {"title": {"value": "Big"}, "description": {"value": "d" * 600_000}}}}
        created = client.post(f"{API}/datasets/", json=body)
    assert query.headers["content-type"].startswith("application/json")
    assert error_code(query) not in ("request_line_too_long", "malformed_request")
    assert created.status_code == 201, created.text


# -- item 9: the CLI's secrets are not in ps -----------------------------------------------------------


def test_cli_header_and_secret_values_never_appear_in_the_process_list(site: Site, tmp_path: Path) -> None:
    """While the CLI waits for the header's value, its command line (what ``ps`` shows every user) holds
    the header's name only; the values arrive on stdin."""
    home = tmp_path / "cli-home"
    command = [
        sys.executable, "-m", "datawharf", "connections", "create", "--url", site.moto.endpoint_url,
        "--region", "us-east-1", "--access-key-id", "AKIACLI", "--secret-stdin",
        "--header", "x-amz-meta-token", "--json",
    ]  # fmt: skip
    env = {"DATAWHARF_HOME": str(home), "DATAWHARF_ALLOWED_PRIVATE_HOSTS": site.moto.host_port,
           "PATH": "/usr/bin:/bin", "PYTHONPATH": os.environ.get("PYTHONPATH", "")}  # fmt: skip
    process = subprocess.Popen(
        command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        time.sleep(1.0)
        shown = Path(f"/proc/{process.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        out, err = process.communicate(f"{SECRET}\nheader-secret-0123456789\n", timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "x-amz-meta-token" in shown
    assert SECRET not in shown and "header-secret" not in shown
    assert process.returncode == 0, err
    public = json.loads(out[out.index("{") :])
    assert public["headers"] == [{"name": "x-amz-meta-token", "value": None}]
    assert SECRET not in out + err and "header-secret" not in out + err
