"""Keep API keys (and anything named like a credential) given in the query string out of the access log.

The Explore API accepts the key in the query string (the reference allows it: a widget or a
spreadsheet cannot set headers), and uvicorn's access log prints every request's path with its query.
Without this, each such request would write a live key into the log. A filter on ``uvicorn.access``
rewrites the record before any handler formats it; a filter rather than a log configuration, so an
operator's own uvicorn logging setup keeps it.

Not only ``apikey``: a client that misspells it (``APIKEY``, ``api_key``, ``api-key``, ``apiKey``,
``api.key``, ``api+key``...) sends the same live key, which datawharf then ignores, but the log would
keep. So a parameter is blanked when its name, percent-decoded, NFKC-normalised (fullwidth letters),
case-folded and stripped of everything but letters and digits, contains a credential word (key, token,
secret, password, auth, signature, credential, session, cookie): blanking a harmless parameter costs a
log reader little, keeping a secret costs much more. Every other parameter stays exactly as sent.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from urllib.parse import unquote_plus

REDACTED = "[redacted]"
_CREDENTIAL_WORDS = re.compile(r"key|token|secret|pass|pwd|auth|signature|credential|session|cookie|bearer")
_NOT_ALNUM = re.compile(r"[\W_]+")


def looks_like_a_credential(name: str) -> bool:
    """Whether a query parameter's name (as sent, percent-encoded or not) suggests a secret value."""
    folded = unicodedata.normalize("NFKC", unquote_plus(name)).casefold()
    return bool(_CREDENTIAL_WORDS.search(_NOT_ALNUM.sub("", folded)))


def redact_api_keys(target: str) -> str:
    """``target`` (a path with its query) with the value of every credential-like parameter replaced."""
    path, question, query = target.partition("?")
    if not question or not query:
        return target
    pieces = []
    for piece in query.split("&"):
        name, equals, _value = piece.partition("=")
        if looks_like_a_credential(name):
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
