"""A loopback HTTP listener that records every request it gets: the "elsewhere" an attack tries to reach.

It answers every request as a friendly S3 would (200, a small CSV, an ETag), so a request that did leave
for it would succeed and show, rather than fail quietly; a test asserts ``received`` stayed empty.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY = b"leaked,secret\n1,2\n"


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class RecordingListener:
    host: str
    port: int
    received: list[Received] = field(default_factory=list)

    @property
    def host_port(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host_port}"


@contextmanager
def recording_listener() -> Iterator[RecordingListener]:
    """A listener on 127.0.0.1 (a free port), stopped on exit."""
    record: list[Received] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, body: bytes) -> None:
            record.append(Received(self.command, self.path, dict(self.headers.items())))
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(BODY)))
            self.send_header("ETag", '"elsewhere"')
            self.send_header("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")
            self.end_headers()
            if body:
                self.wfile.write(body)

        def do_GET(self) -> None:
            self._answer(BODY)

        def do_HEAD(self) -> None:
            self._answer(b"")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield RecordingListener("127.0.0.1", server.server_address[1], record)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
