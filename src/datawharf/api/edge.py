"""The HTTP edge of the APIs: paths as clients send them, and CORS on the public read APIs only.

``SlashAlias``: the reference writes the management API's paths with a trailing slash, the Explore API's
without, and clients send either (huwise-utils-py asks for ``/datasets/{uid}``, the JS client for
``/facets/``). Starlette would answer the other form with a 307, which httpx and most scripts do not
follow. So a path under an API prefix that matches no route while its other form (slash added or removed)
does is routed as that form, answered at once, with no redirect. The backoffice keeps the redirect: its
pages hold relative links, which resolve against the URL the browser shows.

``ScopedCORS``: an Opendatasoft portal serves its Explore API to any web page (widgets on other sites), so
``CORS_PREFIXES`` get Starlette's ``CORSMiddleware`` with the origins of ``DATAWHARF_CORS_ORIGINS``
(every origin by default). Every other path (the management API, the backoffice) passes straight to the
app: no ``Access-Control-*`` header, and a preflight there meets the router's 405, so a page on another
origin can never call them with a key it got hold of, nor send the backoffice's cookie.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

# Where clients send either form of a path: both APIs, the v1 read APIs, the v1 export URL.
SLASH_ALIAS_PREFIXES = ("/api/", "/explore/")

# The public, read-only surfaces: Explore v2.1, the v1 dataset and records APIs, the v1 export URL.
CORS_PREFIXES = ("/api/explore/", "/api/datasets/1.0/", "/api/records/1.0/", "/explore/dataset/")
CORS_METHODS = ("GET", "HEAD", "OPTIONS")
# Besides the CORS-safelisted ones (Accept, Content-Type...): the API key, and what XHR/fetch wrappers add.
CORS_HEADERS = ("Authorization", "X-Requested-With", "Cache-Control", "Pragma")
# A script downloading an export reads the file name the server chose.
CORS_EXPOSE_HEADERS = ("Content-Disposition",)


class SlashAlias:
    """Pure ASGI middleware: routes ``/x`` as ``/x/`` (or the reverse) when only the other form exists."""

    def __init__(
        self, app: ASGIApp, routes: Sequence[BaseRoute], prefixes: Sequence[str] = SLASH_ALIAS_PREFIXES
    ):
        self.app = app
        self.routes = routes
        self.prefixes = tuple(prefixes)

    def _matches(self, scope: Scope) -> bool:
        # A copy: FastAPI's included routers note their state in the scope while they match.
        return any(route.matches(dict(scope))[0] is not Match.NONE for route in self.routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith(self.prefixes) and not self._matches(scope):
            other = path.rstrip("/") if path.endswith("/") else f"{path}/"
            # raw_path, what the access log and the logs show, keeps what the client sent.
            aliased = dict(scope, path=other)
            if self._matches(aliased):
                scope = aliased
        await self.app(scope, receive, send)


class _CORS(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered as the API's JSON error (it answers plain text)."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        refused = bytes(response.body).decode().removeprefix("Disallowed CORS ")
        body = {
            "error_code": "cors_preflight_refused",
            "message": (
                f"This cross-origin request is not allowed ({refused}): the public read APIs take "
                f"{', '.join(CORS_METHODS)} with the headers {', '.join(CORS_HEADERS)}, from the origins "
                "DATAWHARF_CORS_ORIGINS lists; add the page's origin there or call from an allowed one."
            ),
            "detail": {
                "refused": [part.strip() for part in refused.split(",")],
                "origin": request_headers.get("origin"),
            },
        }
        headers = {
            k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")
        }
        return Response(json.dumps(body), status_code=400, media_type="application/json", headers=headers)


class ScopedCORS:
    """Pure ASGI middleware: CORS for paths under ``prefixes``; every other path untouched."""

    def __init__(self, app: ASGIApp, origins: Sequence[str], prefixes: Sequence[str] = CORS_PREFIXES) -> None:
        self.app = app
        self.prefixes = tuple(prefixes)
        self.cors = _CORS(
            app,
            allow_origins=list(origins),
            allow_methods=CORS_METHODS,
            allow_headers=CORS_HEADERS,
            expose_headers=CORS_EXPOSE_HEADERS,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path", "").startswith(self.prefixes):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
