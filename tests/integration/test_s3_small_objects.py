"""A small object of a prefix or glob costs one plain GET (``read_small_object``), not a streaming
reader's ranged GET (and its thread pool), and keeps the ranged path's guarantees: pinned to the
listing's ETag, the answer's ETag and length checked, never more bytes taken than listed, the read
timeout, the error table.

moto serves the publish and the replaced object; loopback stand-ins play the servers moto cannot (one
that ignores If-Match, announces or sends more than listed, cuts the body, freezes)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest

from datawharf.errors import ConnectionProblem, InvalidInput, UpstreamUnavailable
from datawharf.s3.client import S3Client, _shared_session, make_client
from datawharf.s3.credentials import static_credentials
from datawharf.s3.listing import KeyPattern, list_matching
from datawharf.s3.reader import ObjectInfo, read_small_object
from datawharf.settings import Settings
from tests.integration.test_datasets_globs import RECORDS_EACH, station_csv, station_key, upload
from tests.integration.test_datasets_incremental import glob_dataset, object_gets, published
from tests.support.app import make_app_client, make_settings
from tests.support.moto import MotoServer, S3Bucket
from tests.support.stub_s3 import ETAG, FreezingObject, host_port, serve_stub

CREDS = static_credentials("testing", "testing")
BODY = b"id,name\n" + b"".join(b"%d,name %d\n" % (i, i) for i in range(1000))


def listed_info(client: S3Client, bucket: str, key: str) -> ObjectInfo:
    """The object's identity as a publish has it: from the listing (no HEAD)."""
    folder = KeyPattern(key.rpartition("/")[0] + "/")
    [listed] = [o for o in list_matching(client, bucket, folder) if o.key == key]
    return ObjectInfo(listed.size, listed.etag, listed.last_modified, content_type=None)


@contextmanager
def counted_requests(client: S3Client) -> Iterator[list[dict[str, Any]]]:
    """Every request ``client`` sends (method, URL, headers), from botocore's own event: nothing mocked."""
    sent: list[dict[str, Any]] = []

    def record(request: Any, **_: Any) -> None:
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        sent.append({"method": request.method, "url": request.url, "headers": headers})

    client.raw.meta.events.register("before-send.s3", record)
    try:
        yield sent
    finally:
        client.raw.meta.events.unregister("before-send.s3", record)


@contextmanager
def every_request() -> Iterator[list[dict[str, Any]]]:
    """Every request of the clients made meanwhile on the process's shared botocore session (static
    keys: the test connection's), from botocore's own event; nothing is mocked."""
    sent: list[dict[str, Any]] = []

    def record(request: Any, **_: Any) -> None:
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        sent.append({"method": request.method, "url": request.url, "headers": headers})

    session = _shared_session()
    session.register("before-send.s3", record)
    try:
        yield sent
    finally:
        session.unregister("before-send.s3", record)


def test_a_glob_of_small_gzip_csvs_publishes_with_one_get_per_object(
    tmp_path: Path, moto_server: MotoServer, s3_bucket: S3Bucket
) -> None:
    objects = {station_key(n): station_csv(n) for n in range(40)}
    upload(s3_bucket, objects)
    settings = make_settings(tmp_path / "home", allowed_private_hosts=[moto_server.host_port])
    with make_app_client(settings) as client:
        uid = glob_dataset(client, s3_bucket)
        since = moto_server.log_path.stat().st_size
        with every_request() as sent:
            status = published(client, uid)
    assert status["progress"]["records_done"] == 40 * RECORDS_EACH
    assert status["progress"]["bytes_done"] == sum(len(body) for body in objects.values())
    # Exactly one GET of each object, by the S3 server's own log...
    assert Counter(object_gets(moto_server, s3_bucket, since)) == Counter(dict.fromkeys(objects, 1))
    # ...whole (no Range: no ranged reader, no read-ahead machinery) and pinned to the listed ETag.
    gets = [r for r in sent if r["method"] == "GET" and "list-type" not in r["url"]]
    assert len(gets) == len(objects)
    assert not [r for r in gets if "Range" in r["headers"]]
    assert all(r["headers"]["If-Match"].startswith('"') for r in gets)


def test_one_plain_get_pinned_to_the_listed_etag(s3_bucket: S3Bucket, settings: Settings) -> None:
    s3_bucket.put("small/data.csv", BODY)
    with make_client(settings, endpoint_url=s3_bucket.server.endpoint_url, credentials=CREDS) as client:
        info = listed_info(client, s3_bucket.name, "small/data.csv")
        with (
            counted_requests(client) as sent,
            read_small_object(client, s3_bucket.name, "small/data.csv", info) as f,
        ):
            assert f.peek(8)[:8] == BODY[:8]  # at least what was asked, as BufferedReader.peek
            assert f.tell() == 0
            assert f.readline() == b"id,name\n"
            f.seek(0)
            assert f.read() == BODY
            assert f.name == f"s3://{s3_bucket.name}/small/data.csv"
    [request] = sent
    assert request["method"] == "GET"
    assert "Range" not in request["headers"]
    assert request["headers"]["If-Match"] == info.etag


def test_an_object_replaced_since_the_listing_fails_as_object_changed(
    s3_bucket: S3Bucket, settings: Settings
) -> None:
    s3_bucket.put("small/moving.csv", BODY)
    with make_client(settings, endpoint_url=s3_bucket.server.endpoint_url, credentials=CREDS) as client:
        info = listed_info(client, s3_bucket.name, "small/moving.csv")
        s3_bucket.put("small/moving.csv", BODY.replace(b"name", b"nom"))  # replaced after the listing
        with pytest.raises(ConnectionProblem) as caught:
            read_small_object(client, s3_bucket.name, "small/moving.csv", info)
    assert caught.value.error_code == "object_changed"
    assert caught.value.detail["http_status"] == 412  # the server refused If-Match: the listed ETag
    assert "small/moving.csv" in caught.value.message


class _Misbehaving(BaseHTTPRequestHandler):
    """One GET answer per test: ``status``, the headers ``etag``/``length`` announce, then ``sent``
    (``chunked``: without a Content-Length); ``close_early``: the connection drops after ``sent``."""

    protocol_version = "HTTP/1.1"
    etag: ClassVar[str] = ETAG
    length: ClassVar[int | None] = len(BODY)
    sent: ClassVar[bytes] = BODY
    chunked: ClassVar[bool] = False
    gets: ClassVar[list[dict[str, str]]]

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.gets.append(dict(self.headers))
        self.send_response(200)
        self.send_header("ETag", self.etag)
        if self.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif self.length is not None:
            self.send_header("Content-Length", str(self.length))
        self.end_headers()
        if self.chunked:
            for start in range(0, len(self.sent), 4096):
                part = self.sent[start : start + 4096]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(self.sent)
        self.wfile.flush()
        self.close_connection = True


def _stub(**answer: Any) -> type[_Misbehaving]:
    return type("Stub", (_Misbehaving,), {"gets": [], **answer})


def _read_from(handler: type[BaseHTTPRequestHandler], tmp_path: Path, **settings: Any) -> bytes:
    """``read_small_object`` of an object listed as ``BODY`` (its size, ``ETAG``) from the stand-in."""
    with serve_stub(handler) as stub:
        allowed = Settings(home=tmp_path, allowed_private_hosts=[host_port(stub)], **settings)
        with make_client(allowed, endpoint_url=f"http://{host_port(stub)}", credentials=CREDS) as client:
            info = ObjectInfo(size=len(BODY), etag=ETAG, last_modified=None, content_type=None)
            with read_small_object(client, "bucket", "small.csv", info) as f:
                return f.read()


def test_the_stand_in_answers_as_listed(tmp_path: Path) -> None:
    handler = _stub()
    assert _read_from(handler, tmp_path) == BODY
    assert len(handler.gets) == 1 and "Range" not in handler.gets[0]
    assert handler.gets[0]["If-Match"] == ETAG


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param({"etag": '"ffffffffffffffffffffffffffffffff"'}, id="ignores-if-match"),
        pytest.param({"length": len(BODY) + 10, "sent": BODY + b"x" * 10}, id="announces-more"),
        pytest.param({"length": len(BODY) - 10, "sent": BODY[:-10]}, id="announces-less"),
        pytest.param({"chunked": True, "sent": BODY + b"9,more\n" * 1000}, id="sends-more-unannounced"),
        pytest.param({"chunked": True, "sent": BODY[:-10]}, id="sends-less-unannounced"),
    ],
)
def test_an_answer_unlike_the_listing_fails_as_object_changed(tmp_path: Path, answer: dict[str, Any]) -> None:
    handler = _stub(**answer)
    with pytest.raises(ConnectionProblem) as caught:
        _read_from(handler, tmp_path)
    assert caught.value.error_code == "object_changed"
    assert "s3://bucket/small.csv" in caught.value.message
    assert len(handler.gets) == 1  # a wrong object is not retried


def test_a_body_cut_short_is_retried_then_reported(tmp_path: Path) -> None:
    handler = _stub(sent=BODY[: len(BODY) // 2])  # Content-Length says the whole, the connection drops
    with pytest.raises(UpstreamUnavailable) as caught:
        _read_from(handler, tmp_path)
    assert caught.value.error_code == "endpoint_unreachable"
    assert "s3://bucket/small.csv" in caught.value.message
    assert len(handler.gets) == 3  # a broken body is read again, up to three times


def test_a_frozen_body_fails_once_as_read_timeout(tmp_path: Path) -> None:
    handler = FreezingObject.made(BODY)
    with serve_stub(handler) as stub:
        settings = Settings(home=tmp_path, allowed_private_hosts=[host_port(stub)], s3_read_timeout=0.5)
        try:
            with make_client(settings, endpoint_url=f"http://{host_port(stub)}", credentials=None) as client:
                handler.freeze.set()
                info = ObjectInfo(size=len(BODY), etag=ETAG, last_modified=None, content_type=None)
                started = time.monotonic()
                with pytest.raises(UpstreamUnavailable) as caught:
                    read_small_object(client, "bucket", "frozen.csv", info)
                seconds = time.monotonic() - started
        finally:
            handler.release.set()
    assert caught.value.error_code == "s3_read_timeout"
    assert len(handler.frozen_gets) == 1 and handler.frozen_gets[0] == ""  # one GET, no Range
    assert 0.5 <= seconds < 3


def test_a_refused_destination_is_refused_before_any_request(tmp_path: Path) -> None:
    """The one GET goes through the client's NetGuard as every request does: loopback not allowed."""
    handler = _stub()
    with serve_stub(handler) as stub:
        settings = Settings(home=tmp_path)  # loopback not allowed
        with make_client(settings, endpoint_url=f"http://{host_port(stub)}", credentials=CREDS) as client:
            info = ObjectInfo(size=len(BODY), etag=ETAG, last_modified=None, content_type=None)
            with pytest.raises(InvalidInput) as caught:
                read_small_object(client, "bucket", "small.csv", info)
    assert caught.value.error_code == "private_address_refused"
    assert handler.gets == []
