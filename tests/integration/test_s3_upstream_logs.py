"""At DEBUG, botocore logs every response's headers and body: an endpoint echoing a secret header must
not get it into the log that way (nor through the request logs), whatever level the operator sets."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from datawharf.errors import ConnectionProblem
from datawharf.s3.client import make_client
from datawharf.s3.credentials import static_credentials
from datawharf.s3.reader import probe_object
from datawharf.settings import Settings
from tests.support.standins import Answer, Seen, s3_error, standin

SECRET_HEADER_VALUE = "sse-c-key-do-not-log-0123456789"


def test_an_echoed_secret_header_stays_out_of_debug_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def echo(seen: Seen) -> Answer:
        return s3_error(400, "InvalidArgument", f"You sent {seen.headers}", {"x-echo": SECRET_HEADER_VALUE})

    caplog.set_level(logging.DEBUG)
    with standin({"bucket": echo}) as server:
        settings = Settings(home=tmp_path, allowed_private_hosts=[server.host_port], s3_max_attempts=1)
        with (
            make_client(
                settings,
                endpoint_url=server.endpoint_url,
                credentials=static_credentials("AKIDEXAMPLE", "secret-key-do-not-log"),
                headers=[("X-Tenant-Key", SECRET_HEADER_VALUE)],
            ) as client,
            pytest.raises(ConnectionProblem) as caught,
        ):
            probe_object(client, "bucket", "file.csv")
    assert server.seen and server.seen[0].headers["x-tenant-key"] == SECRET_HEADER_VALUE
    assert caught.value.error_code == "invalid_request"
    assert any(record.name.startswith("botocore") for record in caplog.records)  # DEBUG was on
    assert SECRET_HEADER_VALUE not in caplog.text
    assert SECRET_HEADER_VALUE not in caught.value.message + repr(caught.value.detail)
