"""Misbehaving S3 stand-ins on a loopback port, for what moto cannot do (freeze mid-body...).

``serve_stub(handler)`` runs a ``BaseHTTPRequestHandler`` subclass on a thread and yields the server;
``FreezingObject`` serves one object by HEAD and ranged GET, and once ``freeze`` is set sends the
headers and the first half of each GET's body, then goes silent until ``release`` is set (at the
latest when the stub stops), as a frozen S3 server does.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

ETAG = '"0123456789abcdef0123456789abcdef"'


@contextmanager
def serve_stub(handler: type[BaseHTTPRequestHandler]) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def host_port(server: ThreadingHTTPServer) -> str:
    return f"127.0.0.1:{server.server_address[1]}"


class FreezingObject(BaseHTTPRequestHandler):
    """One object (``body``) at any key; subclass it to give each test its own events."""

    body: ClassVar[bytes] = b""
    freeze: ClassVar[threading.Event]
    release: ClassVar[threading.Event]
    frozen_gets: ClassVar[list[str]]

    @classmethod
    def made(cls, body: bytes) -> type[FreezingObject]:
        return type(
            "Freezing",
            (cls,),
            {"body": body, "freeze": threading.Event(), "release": threading.Event(), "frozen_gets": []},
        )

    def log_message(self, *args: Any) -> None:
        pass

    def _head(self, status: int, length: int) -> None:
        self.send_response(status)
        self.send_header("ETag", ETAG)
        self.send_header("Content-Length", str(length))
        self.send_header("Content-Type", "text/csv")
        self.send_header("Last-Modified", "Wed, 01 Jan 2025 00:00:00 GMT")

    def do_HEAD(self) -> None:
        self._head(200, len(self.body))
        self.end_headers()

    def do_GET(self) -> None:
        first, _, last = self.headers.get("Range", "").removeprefix("bytes=").partition("-")
        start = int(first) if first else 0
        end = min(int(last) + 1, len(self.body)) if last else len(self.body)
        part = self.body[start:end]
        self._head(206, len(part))
        self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(self.body)}")
        self.end_headers()
        if not self.freeze.is_set():
            self.wfile.write(part)
            return
        self.frozen_gets.append(self.headers.get("Range", ""))
        with contextlib.suppress(OSError):
            self.wfile.write(part[: len(part) // 2])
            self.wfile.flush()
            self.release.wait(timeout=120)
