"""ODSQL's error codes, in one place so the docs test can check each is documented.

Every refusal is an :class:`~datawharf.errors.ODSQLError` (a 400): the query never reaches DuckDB. The
``detail`` carries the ``clause`` (select, where, group_by...), the 0-based ``position`` of the offending
character inside that clause's text, and the ``token`` found there, so a client can underline it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NoReturn

from datawharf.errors import ODSQLError


class Code(StrEnum):
    SYNTAX = "odsql_syntax_error"
    QUERY_TOO_LONG = "odsql_query_too_long"
    TOO_DEEP = "odsql_too_deep"
    TOO_MANY_PARAMETERS = "odsql_too_many_parameters"
    TOO_COMPLEX = "query_too_complex"
    UNKNOWN_FIELD = "unknown_field"
    UNKNOWN_FUNCTION = "unknown_function"
    UNSUPPORTED_FUNCTION = "odsql_unsupported_function"
    INVALID_ARGUMENT = "odsql_invalid_argument"
    TYPE_MISMATCH = "odsql_type_mismatch"
    INVALID_NUMBER = "odsql_invalid_number"
    INVALID_DATE = "odsql_invalid_date"
    INVALID_DATE_FORMAT = "odsql_invalid_date_format"
    INVALID_GEOMETRY = "odsql_invalid_geometry"
    MISPLACED_AGGREGATE = "odsql_misplaced_aggregate"
    NOT_GROUPED = "odsql_not_grouped"
    DUPLICATE_COLUMN = "odsql_duplicate_column"
    INVALID_LIMIT = "invalid_limit"
    INVALID_OFFSET = "invalid_offset"
    INVALID_TIMEZONE = "invalid_timezone"
    INVALID_REFINE = "invalid_refine"


def fail(
    code: Code,
    message: str,
    *,
    position: int | None = None,
    token: str | None = None,
    **detail: Any,
) -> NoReturn:
    """Raise the one error type; position and token go to ``detail`` when known."""
    if position is not None:
        detail["position"] = position
    if token is not None:
        detail["token"] = token
    if detail.get("clause") in ("select", "where", "group_by", "order_by", "refine", "exclude"):
        message = f"{message} (in {detail['clause']})"
    raise ODSQLError(message, error_code=code.value, detail=detail)
