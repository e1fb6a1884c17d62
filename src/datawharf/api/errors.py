"""The one place where errors become HTTP responses, in the reference error body.

Every error leaves as ``{"error_code", "message", "detail"}``: datawharf's own errors with their code,
request validation as ``validation_error`` with per-field messages, unknown routes as ``not_found``, and
anything unexpected as ``internal_error`` with a trace id (the cause goes to the log, not to the client).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from datawharf.api.v1_errors import is_v1_path, v1_body
from datawharf.errors import DatawharfError

log = logging.getLogger("datawharf.api")

_HTTP_CODES = {
    400: "bad_request",
    401: "authentication_failed",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_body_too_large",
    415: "unsupported_media_type",
}


def shaped(request: Request, status: int, body: dict[str, Any]) -> JSONResponse:
    """The error response for this request's API: the reference body, or v1's on the v1 paths."""
    if is_v1_path(request.url.path):
        return JSONResponse(v1_body(status, body), status_code=status)
    return JSONResponse(body, status_code=status)


def _field_path(loc: tuple[Any, ...]) -> str:
    # ("body", "auth", "region") -> "auth.region"; the first element only says where it came from.
    parts = [str(part) for part in loc[1:]] if len(loc) > 1 else [str(part) for part in loc]
    return ".".join(parts) or "body"


def _validation_detail(exc: RequestValidationError) -> dict[str, list[str]]:
    detail: dict[str, list[str]] = {}
    for error in exc.errors():
        if error.get("type") == "json_invalid":  # its loc is ("body", <character offset>), not a field
            reason = str((error.get("ctx") or {}).get("error", "JSON decode error"))
            position = error.get("loc", ("body", "?"))[-1]
            message = f"Not valid JSON at character {position} ({reason}): send a JSON document."
            detail.setdefault("body", []).append(message)
            continue
        # Never echo the rejected input: it may be a secret typed in the wrong field.
        detail.setdefault(_field_path(tuple(error.get("loc", ()))), []).append(str(error.get("msg")))
    return detail


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DatawharfError)
    async def _datawharf_error(request: Request, exc: DatawharfError) -> JSONResponse:
        if exc.http_status >= 500:  # upstream trouble (or a bug): operators see it without the client
            log.warning("%s answered %s: %s", exc.error_code, exc.http_status, exc.message)
        return shaped(request, exc.http_status, exc.to_body())

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = _validation_detail(exc)
        fields = ", ".join(sorted(detail))
        message = f"Invalid input in: {fields}."
        return shaped(request, 400, {"error_code": "validation_error", "message": message, "detail": detail})

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        if exc.status_code == 404 and message == "Not Found":
            message = "Not found: no such route. See /openapi.json for the API."
        return shaped(request, exc.status_code, {"error_code": code, "message": message, "detail": {}})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        trace_id = str(uuid.uuid4())
        log.error("internal error %s: %s", trace_id, type(exc).__name__, exc_info=exc)
        body = {
            "error_code": "internal_error",
            "message": "A server error occurred. Report the trace_id to the administrator.",
            "detail": {},
            "trace_id": trace_id,
        }
        return shaped(request, 500, body)
