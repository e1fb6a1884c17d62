"""The localbucket server, plus a byte counter: ``python -m bench.lbserve DATA_ROOT``.

localbucket (pinned 1.2.1) serves each folder of DATA_ROOT as a bucket, reading ranged GETs straight from
the file. Its request log carries neither the Range header nor the bytes sent, and a counting proxy in
front of it would cost CPU on a 2-core machine, so this subclass counts in the handler itself and answers
``GET /_bench/stats`` (``_bench`` cannot clash with a bucket: S3 bucket names have no underscore). It
binds port 0 and prints the port it got on stdout, so two benchmarks never race for a port.

``--nodelay`` sets TCP_NODELAY on each connection. http.server writes an answer's headers and its body
in two sends; with Nagle's algorithm on, a body shorter than one segment (64 KiB on loopback) waits for
the ACK of the headers, which the client delays by 40 ms: a stall of 40 ms on every small answer that
S3 and the S3-compatible servers (Go's net sets TCP_NODELAY by default) do not have. Off by default,
so the figures of the other benchmarks stay comparable with their saved results.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import localbucket

PINNED_VERSION = "1.2.1"
STATS_PATH = "/_bench/stats"


class _Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.get_requests = 0
        self.bytes_sent = 0

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return {
                "requests": self.requests,
                "get_requests": self.get_requests,
                "bytes_sent": self.bytes_sent,
            }


COUNTERS = _Counters()


class _CountingWriter:
    """Forwards writes to the socket writer, counting those made once ``counting`` is set."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.counting = False

    def write(self, data: bytes) -> int:
        if not self.counting:
            return self.raw.write(data)
        # Counted before the write, so a client that has its bytes never reads a stale figure; taken
        # back if the write fails (a client that hung up did not get them).
        with COUNTERS.lock:
            COUNTERS.bytes_sent += len(data)
        try:
            return self.raw.write(data)
        except BaseException:
            with COUNTERS.lock:
                COUNTERS.bytes_sent -= len(data)
            raise

    def flush(self) -> None:
        self.raw.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-body (a preview that has its 20 rows) is normal here, not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class CountingHandler(localbucket.S3Handler):
    """localbucket's handler, counting requests and object bytes sent."""

    def do_GET(self) -> None:
        if self.path == STATS_PATH:
            body = json.dumps(COUNTERS.snapshot()).encode()
            self._send(HTTPStatus.OK, body, {"Content-Type": "application/json"})
            return
        with COUNTERS.lock:
            COUNTERS.requests += 1
            COUNTERS.get_requests += 1
        super().do_GET()

    def do_HEAD(self) -> None:
        with COUNTERS.lock:
            COUNTERS.requests += 1
        super().do_HEAD()

    def _send_file(self, status, file, start, length, headers, include_body) -> None:  # type: ignore[no-untyped-def]
        # Count what reaches the socket, not the range asked for: a preview that closes the connection
        # after the first MiB of a 100 MiB range has fetched one MiB.
        real = self.wfile
        self.wfile = _CountingWriter(real)
        try:
            super()._send_file(status, file, start, length, headers, include_body)
        finally:
            self.wfile = real

    def _send_headers(self, status, length, headers=None) -> None:  # type: ignore[no-untyped-def]
        super()._send_headers(status, length, headers)
        if isinstance(self.wfile, _CountingWriter):
            self.wfile.counting = True  # what follows the headers is the object's bytes

    def log_message(self, format: str, *args: object) -> None:
        """Silenced: one log line per ranged GET would cost the server CPU the contenders need."""


def main(argv: list[str] | None = None) -> None:
    if localbucket.__version__ != PINNED_VERSION:
        raise SystemExit(f"localbucket {localbucket.__version__} found, the benchmark pins {PINNED_VERSION}")
    args = sys.argv[1:] if argv is None else argv
    data_root = Path(args[0]).resolve()
    CountingHandler.disable_nagle_algorithm = "--nodelay" in args[1:]
    logging.basicConfig(level=logging.WARNING)
    CountingHandler.data_root = data_root
    server = _Server(("127.0.0.1", 0), CountingHandler)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
