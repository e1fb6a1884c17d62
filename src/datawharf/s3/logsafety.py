"""Keep signed headers, and what an endpoint echoes of them, out of the logs, whatever the level.

At DEBUG, botocore logs every canonical request (``botocore.auth``) and every prepared request
(``botocore.endpoint``) with its headers, and every response's headers and body (``botocore.parsers``):
the connection's extra headers are write-only secrets (an SSE-C key, a token) and would land in the log
verbatim, either as sent or as an endpoint echoes them back in an error body. A filter on those three
loggers drops their DEBUG records; everything else botocore logs (retries, connection pool) still comes
through.

A filter rather than a logger level: ``logging.basicConfig(level=DEBUG)`` or a ``dictConfig`` resets
levels, but not the filters on a logger that configuration does not name.
"""

from __future__ import annotations

import logging

_SECRET_LOGGERS = ("botocore.auth", "botocore.endpoint", "botocore.parsers")


class _DropDebug(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


_FILTER = _DropDebug("datawharf-no-signed-headers")


def keep_signed_headers_out_of_logs() -> None:
    """Idempotent: call before making S3 clients."""
    for name in _SECRET_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
