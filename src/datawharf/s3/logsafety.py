"""Keep signed headers out of the logs, whatever level an operator turns on.

At DEBUG, botocore logs every canonical request (``botocore.auth``) and every prepared request
(``botocore.endpoint``) with its headers: the connection's extra headers are write-only secrets
(an SSE-C key, a token) and would land in the log verbatim. A filter on those two loggers drops their
DEBUG records; everything else botocore logs (retries, parsing, connection pool) still comes through.

A filter rather than a logger level: ``logging.basicConfig(level=DEBUG)`` or a ``dictConfig`` resets
levels, but not the filters on a logger that configuration does not name.
"""

from __future__ import annotations

import logging

_SIGNING_LOGGERS = ("botocore.auth", "botocore.endpoint")


class _DropDebug(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


_FILTER = _DropDebug("datawharf-no-signed-headers")


def keep_signed_headers_out_of_logs() -> None:
    """Idempotent: call before making S3 clients."""
    for name in _SIGNING_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
