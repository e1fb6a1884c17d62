"""Keep API keys given as ``?apikey=`` out of the server's access log.

The Explore API accepts the key in the query string (the reference allows it: a widget or a
spreadsheet cannot set headers), and uvicorn's access log prints every request's path with its query.
Without this, each such request would write a live key into the log. A filter on ``uvicorn.access``
rewrites the record before any handler formats it; a filter rather than a log configuration, so an
operator's own uvicorn logging setup keeps it.

The query is read piece by piece as Starlette reads it (names percent-decoded, ``+`` a space), so
``?%61pikey=`` is caught too, and every other parameter stays exactly as the client sent it.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote_plus

REDACTED = "[redacted]"
_KEY_PARAMETERS = frozenset({"apikey"})


def redact_api_keys(target: str) -> str:
    """``target`` (a path with its query) with the value of every ``apikey`` parameter replaced."""
    path, question, query = target.partition("?")
    if not question or not query:
        return target
    pieces = []
    for piece in query.split("&"):
        name, equals, _value = piece.partition("=")
        if unquote_plus(name) in _KEY_PARAMETERS:
            piece = f"{name}{equals or '='}{REDACTED}"
        pieces.append(piece)
    return f"{path}?{'&'.join(pieces)}"


class _RedactApiKeys(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_api_keys(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


_FILTER = _RedactApiKeys("datawharf-no-api-keys")


def keep_api_keys_out_of_access_log() -> None:
    """Idempotent: the app's lifespan calls it, after the server has configured its logging."""
    logger = logging.getLogger("uvicorn.access")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
