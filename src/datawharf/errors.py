"""The errors datawharf raises, one hierarchy for the whole core.

Every error a user can see carries a stable ``error_code`` (documented, never renamed), a ``message``
that names the cause and the fix, and an optional ``detail`` dict. The faces translate them once:
the API's single exception handler turns them into the reference error body
``{"error_code", "message", "detail"}`` with ``http_status``; the CLI prints the message.

    DatawharfError                     500  (a bug: should never reach a user as such)
      InvalidInput                     400
        ExtractError                   400  detail: row, column, byte_offset
        ODSQLError                     400  detail: position, token
      AuthenticationFailed             401
      PermissionDenied                 403
      NotFound                         404
      Conflict                         409
      ConnectionProblem                400  detail: step (endpoint | authentication | bucket | object)
      UpstreamUnavailable              502  (S3 / STS unreachable, timed out)

Secrets never go into a message or a detail: build messages from names and codes, not from values.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DatawharfError(Exception):
    """Base of every error datawharf raises on purpose."""

    http_status: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        error_code: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code or self.default_code
        self.detail: dict[str, Any] = detail or {}

    def to_body(self) -> dict[str, Any]:
        """The reference error body."""
        return {"error_code": self.error_code, "message": self.message, "detail": self.detail}


class InvalidInput(DatawharfError):
    http_status = 400
    default_code = "invalid_input"


class ExtractError(InvalidInput):
    default_code = "extract_error"


class ODSQLError(InvalidInput):
    default_code = "odsql_error"


class AuthenticationFailed(DatawharfError):
    http_status = 401
    default_code = "authentication_failed"


class PermissionDenied(DatawharfError):
    http_status = 403
    default_code = "permission_denied"


class NotFound(DatawharfError):
    http_status = 404
    default_code = "not_found"


class Conflict(DatawharfError):
    http_status = 409
    default_code = "conflict"


class ConnectionProblem(DatawharfError):
    """S3 / STS answered, but not as we hoped (bad key, no bucket, access denied...)."""

    http_status = 400
    default_code = "connection_problem"

    def __init__(
        self,
        message: str,
        *,
        step: str,
        error_code: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, error_code=error_code, detail={"step": step, **(detail or {})})
        self.step = step


class UpstreamUnavailable(ConnectionProblem):
    """S3 / STS did not answer: unreachable, timed out, TLS failure."""

    http_status = 502
    default_code = "upstream_unavailable"
