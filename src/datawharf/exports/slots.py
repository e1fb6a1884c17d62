"""A cap on the exports one client address streams at once.

An export holds one of the export pool's DuckDB connections for as long as its client reads; without a
cap, one address opening a few downloads and never reading them would hold every one. ``claim`` is
checked before the pool is asked, so the refusal (``too_many_exports``, 429) is immediate. Behind a
reverse proxy every client shares the proxy's address: raise the cap there, or have the proxy limit.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from datawharf.errors import DatawharfError


class TooManyExports(DatawharfError):
    http_status = 429
    default_code = "too_many_exports"


class ExportSlots:
    """How many exports each client address is streaming; at most ``per_client`` each."""

    def __init__(self, per_client: int) -> None:
        self.per_client = per_client
        self._running: Counter[str] = Counter()
        self._lock = threading.Lock()

    def running(self, client: str) -> int:
        with self._lock:
            return self._running[client]

    @contextmanager
    def claim(self, client: str) -> Iterator[None]:
        """Hold one of ``client``'s slots for the block (the life of one export stream)."""
        with self._lock:
            if self._running[client] >= self.per_client:
                raise TooManyExports(
                    f"This address is already streaming {self.per_client} export(s), the most it may at "
                    "once. Finish or cancel a download, then retry.",
                    detail={"per_client": self.per_client},
                )
            self._running[client] += 1
        try:
            yield
        finally:
            with self._lock:
                self._running[client] -= 1
                if not self._running[client]:
                    del self._running[client]
