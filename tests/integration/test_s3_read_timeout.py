"""A body that stops coming fails as ``s3_read_timeout`` after one read timeout, without retries."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from datawharf.errors import UpstreamUnavailable
from datawharf.s3.client import make_client
from datawharf.s3.reader import open_object, probe_object
from datawharf.settings import Settings
from tests.support.stub_s3 import FreezingObject, host_port, serve_stub


@pytest.mark.parametrize("access", ["stream", "preview"])
def test_frozen_body_fails_once_as_read_timeout(tmp_path: Path, access: str) -> None:
    handler = FreezingObject.made(b"id\n" + b"1\n" * 100_000)
    with serve_stub(handler) as stub:
        settings = Settings(home=tmp_path, allowed_private_hosts=[host_port(stub)], s3_read_timeout=0.5)
        try:
            with make_client(settings, endpoint_url=f"http://{host_port(stub)}", credentials=None) as client:
                handler.freeze.set()
                started = time.monotonic()
                with (
                    pytest.raises(UpstreamUnavailable) as caught,
                    open_object(client, "bucket", "frozen.csv", access=access) as f,
                ):
                    f.read(1000)
                seconds = time.monotonic() - started
        finally:
            handler.release.set()
    assert caught.value.error_code == "s3_read_timeout"
    assert caught.value.detail["read_timeout_seconds"] == 0.5
    assert "DATAWHARF_S3_READ_TIMEOUT" in caught.value.message and "0.5 s" in caught.value.message
    assert "s3://bucket/frozen.csv" in caught.value.message
    assert len(handler.frozen_gets) == 1  # not retried: a retry would double the wait
    assert 0.5 <= seconds < 3


def test_frozen_probe_fails_as_read_timeout(tmp_path: Path) -> None:
    handler = FreezingObject.made(b"x" * 200_000)
    with serve_stub(handler) as stub:
        settings = Settings(home=tmp_path, allowed_private_hosts=[host_port(stub)], s3_read_timeout=0.5)
        try:
            with make_client(settings, endpoint_url=f"http://{host_port(stub)}", credentials=None) as client:
                handler.freeze.set()
                with pytest.raises(UpstreamUnavailable) as caught:
                    probe_object(client, "bucket", "frozen.bin")
        finally:
            handler.release.set()
    assert caught.value.error_code == "s3_read_timeout"
