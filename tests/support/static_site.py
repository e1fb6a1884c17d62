"""A folder served over HTTP on a free loopback port, from a thread: a page "on another origin" for the
browser tests (the stdlib's ``SimpleHTTPRequestHandler``: nothing to hand-write)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No line on stderr for each file the browser fetches."""


@contextmanager
def static_site(folder: Path) -> Iterator[str]:
    """Serves ``folder``; yields its base URL (``http://127.0.0.1:<port>``)."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
