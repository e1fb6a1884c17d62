"""What an S3 endpoint says back is untrusted text: scrub a connection's secrets out of it, then bound it.

An endpoint may put the request's headers in its error ``<Message>`` (some S3-compatible stores do, and
so does anything hostile behind an allowed URL): the session token, an SSE-C key, a custom header's
value, the ``Authorization`` header. Whatever upstream text datawharf repeats (the message, the error
code, request ids, a region, a redirect's host) first goes through ``Scrubber.clean``:

- every secret of the connection is replaced by ``[redacted]``, in clear and in the forms an echo
  cheaply turns it into: percent-encoded (``quote`` and ``quote_plus``) and base64 (standard and
  URL-safe, with or without padding), case-insensitively;
- SigV4 signatures (``Signature=<hex>``, ``X-Amz-Signature=<hex>``) are replaced too;
- control characters become spaces, and the result is cut to a bounded length (after scrubbing, so no
  cut can leave half a secret that the patterns no longer match).
"""

from __future__ import annotations

import base64
import functools
import re
from dataclasses import dataclass, field
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"
UPSTREAM_TEXT_MAX = 300  # an S3 message is one sentence; anything longer is not for our users
UPSTREAM_TOKEN_MAX = 64  # error codes, request ids, regions, host names
_SIGNATURE = re.compile(r"((?:x-amz-)?signature=)[0-9a-f]{16,}", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def _forms(secret: str) -> set[str]:
    """The secret and what an echo cheaply turns it into."""
    raw = secret.encode()
    encoded = {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    return {secret, quote(secret, safe=""), quote_plus(secret)} | encoded | {e.rstrip("=") for e in encoded}


@dataclass(frozen=True)
class Scrubber:
    """Cleans upstream text of one connection's secrets (its values are never shown: ``repr=False``)."""

    secrets: tuple[str, ...] = field(default=(), repr=False)

    @functools.cached_property
    def _pattern(self) -> re.Pattern[str] | None:
        forms = {form for secret in self.secrets if secret for form in _forms(secret) if form}
        if not forms:
            return None
        # Longest first: a secret that contains another is replaced whole.
        alternatives = sorted(forms, key=len, reverse=True)
        return re.compile("|".join(re.escape(form) for form in alternatives), re.IGNORECASE)

    def clean(self, text: object, limit: int = UPSTREAM_TEXT_MAX) -> str:
        """``text`` without secrets or control characters, at most ``limit`` characters long."""
        cleaned = _CONTROL.sub(" ", str(text))
        if self._pattern is not None:
            cleaned = self._pattern.sub(REDACTED, cleaned)
        cleaned = _SIGNATURE.sub(lambda match: match.group(1) + REDACTED, cleaned).strip()
        if len(cleaned) > limit:
            cleaned = cleaned[: limit - 1].rstrip() + "…"
        return cleaned

    def token(self, text: object) -> str:
        """A short upstream value (an error code, a request id, a region, a host): cleaned, cut shorter."""
        return self.clean(text, UPSTREAM_TOKEN_MAX)
