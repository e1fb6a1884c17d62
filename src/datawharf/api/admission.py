"""Explore queries admitted a few at a time, first come first served (issue 16, item 3).

Under 100 concurrent clients the Explore API served a third of what it served under 20, and answered
``query_engine_busy`` after 30 s: every request took one of the server's 40 worker threads for its
handler and its dependencies, so 40 requests fought for the GIL and for the 4 DuckDB connections, and
the ones left waited on the pool's queue, in no particular order, until they timed out. Here, a request
to the Explore API's catalog and records waits *before* it takes a thread, on an asyncio semaphore
(which wakes its waiters in arrival order), so only a few run at once: each gets a connection at once
and the CPU to itself, and a waiting request costs nothing but its socket. Exports are left out: a
streaming export holds its connection for as long as its client reads, and must not hold a slot too.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send


class ExploreAdmission:
    """Pure ASGI middleware: at most ``limit`` Explore catalog/records requests in the app at once
    (``prefix``: the paths admitted, one or several: the v1 searches share the same slots)."""

    def __init__(self, app: ASGIApp, prefix: str | tuple[str, ...], limit: int) -> None:
        self.app = app
        self.prefix = prefix
        self.limit = limit
        self._slots: asyncio.Semaphore | None = None  # made in the server's event loop, at first use

    def _admitted(self, scope: Scope) -> bool:
        path: str = scope.get("path", "")
        return scope["type"] == "http" and path.startswith(self.prefix) and "/exports/" not in path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._admitted(scope):
            await self.app(scope, receive, send)
            return
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.limit)
        async with self._slots:
            await self.app(scope, receive, send)
