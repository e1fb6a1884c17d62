"""Misbehaving S3 stand-ins on loopback, for what moto cannot be made to do: echo secrets, redirect.

``StandIn`` serves one ``Behaviour`` per bucket (the first path segment) and records every request it
receives (method, path, headers), so a test can count what datawharf sent and check what it sent it.
Start one with ``standin(behaviours)`` (a context manager); ``host`` picks the loopback address (a
second stand-in on 127.0.0.2 is "another host" for redirect tests).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.sax.saxutils import escape


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names


Behaviour = Callable[[Seen], Answer]


def error_xml(code: str, message: str, **fields: str) -> bytes:
    """An S3 error body; ``message`` and the fields are XML-escaped as a real server would."""
    extra = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in fields.items())
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{escape(code)}</Code>'
        f"<Message>{escape(message)}</Message>{extra}</Error>"
    ).encode()


def s3_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **fields: str
) -> Answer:
    body = error_xml(code, message, **fields)
    return Answer(status, {"Content-Type": "application/xml", **(headers or {})}, body)


class StandIn(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, behaviours: dict[str, Behaviour]) -> None:
        super().__init__((host, 0), _Handler)
        self.behaviours = behaviours
        self.seen: list[Seen] = []
        self.lock = threading.Lock()

    @property
    def host_port(self) -> str:
        return f"{self.server_address[0]}:{self.server_address[1]}"

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host_port}"

    def requests_for(self, bucket: str) -> list[Seen]:
        with self.lock:
            return [
                seen for seen in self.seen if seen.path.lstrip("/").split("/", 1)[0].split("?")[0] == bucket
            ]

    def clear(self) -> None:
        with self.lock:
            self.seen.clear()


class _Handler(BaseHTTPRequestHandler):
    server: StandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # keep the test output clean
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        seen = Seen(self.command, self.path, {name.lower(): value for name, value in self.headers.items()})
        with self.server.lock:
            self.server.seen.append(seen)
        bucket = self.path.lstrip("/").split("/", 1)[0].split("?")[0]
        behaviour = self.server.behaviours.get(bucket)
        answer = behaviour(seen) if behaviour else s3_error(404, "NoSuchBucket", "No such bucket.")
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _answer


@contextmanager
def standin(behaviours: dict[str, Behaviour], host: str = "127.0.0.1") -> Iterator[StandIn]:
    server = StandIn(host, behaviours)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
