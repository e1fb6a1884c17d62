"""The HTTP/1.1 protocol ``datawharf serve`` runs: uvicorn's httptools one, with a bound on the request head
and JSON errors for requests that never reach the app.

uvicorn bounds neither the request line nor the headers with httptools (a client may send megabytes of
headers, all kept in memory), and the request line fails only past 64 KiB, where ``parse_url`` gives up,
with a plain-text ``Invalid HTTP request received.``. A client of a JSON API should get the API's error
body, with a stable code, for these too. So the URL and the headers are counted as the parser hands
them over, and the request is refused as soon as ``DATAWHARF_MAX_REQUEST_HEAD_BYTES`` is crossed: a
414 ``request_line_too_long`` (the URL alone is too long) or a 431 ``request_headers_too_large``; any
other request the parser refuses is a 400 ``malformed_request``. All three close the connection.
httptools hands a header over only once it is complete (it buffers a long value itself), so the bytes
received while the head is incomplete are counted too: one header of megabytes is refused after one
socket read (256 KiB at most), not once it has all arrived.

A subclass of uvicorn's protocol rather than middleware: the app only sees a request once its whole head
has been parsed, which is too late to bound it.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from datawharf.settings import Settings


class _HeadTooLarge(Exception):
    """Raised in a parser callback: httptools turns it into the HttpParserError uvicorn answers."""


def _body(error_code: str, message: str, max_bytes: int | None = None) -> bytes:
    detail = {"max_bytes": max_bytes} if max_bytes is not None else {}
    return json.dumps({"error_code": error_code, "message": message, "detail": detail}).encode()


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` with ``max_head_bytes`` (set by ``http_protocol``) and JSON refusals."""

    max_head_bytes = 60 * 1024
    _head_bytes = 0
    _refusal: tuple[int, str, str] | None = None
    _in_head = False
    _received_in_head = 0

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._in_head or self.transport.is_closing():
            return
        self._received_in_head += len(data)
        if self._received_in_head > self.max_head_bytes:
            self._refusal = self._headers_too_large()
            self.send_400_response("request head too large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._refusal = None
        self._in_head = True
        self._received_in_head = 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_url(self, url: bytes) -> None:
        self._count(len(url), in_url=True)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4, in_url=False)  # ": " and CRLF
        super().on_header(name, value)

    def _count(self, size: int, *, in_url: bool) -> None:
        self._head_bytes += size
        if self._head_bytes <= self.max_head_bytes:
            return
        limit = f"{self.max_head_bytes // 1024} KiB"
        if in_url:
            self._refusal = (
                414,
                "request_line_too_long",
                f"The request line (path and query string) exceeds {limit}: shorten the query "
                "(where, select, refine...) or split it into several requests.",
            )
        else:
            self._refusal = self._headers_too_large()
        raise _HeadTooLarge

    def _headers_too_large(self) -> tuple[int, str, str]:
        return (
            431,
            "request_headers_too_large",
            f"The request's line and headers together exceed {self.max_head_bytes // 1024} KiB: send "
            "fewer or smaller headers (a cookie or a header from a proxy may have grown).",
        )

    def send_400_response(self, msg: str) -> None:
        """uvicorn's refusal of a request the parser rejected, as the API's JSON error."""
        if self._refusal is not None:
            status, code, message = self._refusal
            body = _body(code, message, self.max_head_bytes)
        else:
            status, code = 400, "malformed_request"
            body = _body(code, "The request is not valid HTTP/1.1: check the client or proxy sending it.")
        content = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()


def http_protocol(settings: Settings) -> type[BoundedHttpToolsProtocol]:
    """The protocol class for ``uvicorn.run(http=...)``, bounded by the settings."""
    return type(
        "DatawharfHttpProtocol",
        (BoundedHttpToolsProtocol,),
        {"max_head_bytes": settings.max_request_head_bytes},
    )
