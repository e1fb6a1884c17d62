"""Errors of the v1 APIs in v1's own shape: ``{"errorcode": <int>, "error": "<message>"}``.

Opendatasoft's v1 answers ``{"errorcode": 10002, "error": "Too many requests..."}``; scripts written
for it (odsclient among them) read ``error`` and ``errorcode``. The numbers below are stable, one per
kind of failure (docs/explore.md lists them); datawharf's own ``error_code`` and ``detail`` ride along,
so the precise cause (``dataset_not_found``, ``v1_invalid_q``, ``unknown_field``...) is never lost.
"""

from __future__ import annotations

from typing import Any

# The paths answered in the v1 shape: the v1 read APIs and the portal export URL.
V1_PREFIXES = ("/api/datasets/1.0/", "/api/records/1.0/", "/explore/dataset/")

# HTTP status -> v1 errorcode. 10002 is the number Opendatasoft gives "too many requests".
ERRORCODES: dict[int, int] = {
    400: 10001,
    401: 10011,
    403: 10012,
    404: 10004,
    405: 10005,
    429: 10002,
    500: 10000,
    502: 10006,
    503: 10003,
}


def is_v1_path(path: str) -> bool:
    return path.startswith(V1_PREFIXES) or f"{path}/".startswith(V1_PREFIXES)


def v1_body(status: int, body: dict[str, Any]) -> dict[str, Any]:
    """The reference error body (``error_code``, ``message``, ``detail``...) as v1 shows it."""
    shown: dict[str, Any] = {
        "errorcode": ERRORCODES.get(status, 10000 if status >= 500 else 10001),
        "error": body.get("message", ""),
        "error_code": body.get("error_code"),
        "detail": body.get("detail", {}),
    }
    if "trace_id" in body:
        shown["trace_id"] = body["trace_id"]
    return shown
