"""S3 clients on botocore, one per connection (no global cache: rotating a key is making a new client).

Everything on the wire is botocore's: SigV4 signing, the standard retry mode, timeouts, the connection
pool. What datawharf adds is registered on botocore's event system, never patched in:

- ``before-sign.s3``: the connection's extra headers go on every request before signing, so SigV4
  signs them (requester-pays, SSE-C keys, custom headers);
- ``before-send.s3``: the outbound guard checks the host of every request about to leave, including
  requests botocore re-targeted itself (see netguard);
- ``needs-retry.s3`` (first in line): no redirect is ever followed. A "bucket is in another region"
  answer becomes ``wrong_region`` naming the right region (the region is part of the connection, and
  the user should fix it once); any other 3xx becomes ``redirect_refused``. The handler also marks the
  request as already redirected, which disarms botocore's S3 region redirector for it: that
  redirector would re-sign the request for a region the endpoint names, and, when the answer names
  none, HEAD the bucket to find it, a HEAD whose own 3xx asks again, and so on until RecursionError
  (81 requests against an endpoint answering every request with a 302).

Credentials come in as a botocore credentials object (static keys, or RefreshableCredentials for an
assumed role), or None for anonymous (unsigned) reads of public buckets.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import botocore
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialProvider, CredentialResolver, Credentials

from datawharf.errors import InvalidInput
from datawharf.s3.errors import (
    REDIRECT_STATUSES,
    Where,
    redirect_refused_error,
    response_region,
    wrong_region_error,
)
from datawharf.s3.locations import AddressingStyle, S3Location
from datawharf.s3.logsafety import keep_signed_headers_out_of_logs
from datawharf.s3.netguard import NetGuard
from datawharf.s3.scrub import Scrubber
from datawharf.settings import Settings

DEFAULT_REGION = "us-east-1"
DEFAULT_POOL = 32

# Headers botocore or datawharf set themselves: a connection may not override them.
_RESERVED_HEADERS = frozenset(
    {
        "authorization",
        "host",
        "content-length",
        "content-md5",
        "content-type",
        "connection",
        "transfer-encoding",
        "expect",
        "range",
        "if-match",
        "if-none-match",
        "if-modified-since",
        "if-unmodified-since",
        "x-amz-date",
        "x-amz-content-sha256",
        "x-amz-security-token",
        "user-agent",
    }
)
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 9110 field-name


def is_header_name(name: object) -> bool:
    """An RFC 9110 field name. Anything else in a name field is often a whole ``Name: value`` line pasted
    there, secret included: it is never repeated (not in a message, not in a form shown again)."""
    return isinstance(name, str) and _TOKEN.match(name) is not None


def validate_headers(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Check a connection's extra headers; raise ``invalid_header`` naming the header (never its value).

    An invalid name is not repeated either, only its position: it is often a whole ``Name: value``
    line pasted into the name field, secret included.
    """
    checked: list[tuple[str, str]] = []
    seen: set[str] = set()
    for position, (name, value) in enumerate(headers, start=1):
        if not is_header_name(name):
            raise InvalidInput(
                f"The name of header {position} is not valid: use letters, digits and '-' only, and give "
                "the value in its own field.",
                error_code="invalid_header",
                detail={"header_position": position},
            )
        lowered = name.lower()
        if lowered in _RESERVED_HEADERS:
            raise InvalidInput(
                f"The header {name} is set by datawharf itself and cannot be given: remove it.",
                error_code="invalid_header",
                detail={"header": name},
            )
        if lowered in seen:
            raise InvalidInput(
                f"The header {name} is given twice: keep one.",
                error_code="invalid_header",
                detail={"header": name},
            )
        if not isinstance(value, str) or any(
            (ord(ch) < 0x20 and ch != "\t") or ord(ch) == 0x7F for ch in value
        ):
            raise InvalidInput(
                f"The value of header {name} contains a newline or control character: give it on one line.",
                error_code="invalid_header",
                detail={"header": name},
            )
        seen.add(lowered)
        checked.append((name, value))
    return tuple(checked)


class _GivenCredentials(CredentialProvider):
    """A provider that returns exactly the credentials it was given.

    Registered as the session's only provider, so botocore never looks in the environment, the shared
    files or the instance metadata service for a connection's client.
    """

    METHOD = "datawharf"

    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        self._given = credentials

    def load(self) -> Credentials:
        return self._given


@dataclass
class S3Client:
    """A botocore S3 client bound to one endpoint, region, credentials and header set.

    ``raw`` is the botocore client (thread-safe: share it among reader threads). Close it when the
    connection's lifecycle ends, to release the pool's sockets.
    """

    raw: Any
    endpoint_url: str | None
    region: str
    addressing_style: AddressingStyle
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # values are secrets
    credentials: Credentials | None = field(default=None, repr=False)

    def secrets(self) -> tuple[str, ...]:
        """What must never be repeated from an answer: the secret key, the token, the header values.

        Read now, not at creation: an assumed role's keys are refreshed while the client lives.
        """
        found = [value for _name, value in self.headers]
        if self.credentials is not None:
            frozen = self.credentials.get_frozen_credentials()
            found += [frozen.secret_key, frozen.token or ""]
        return tuple(value for value in found if value)

    def where(self, bucket: str | None = None, key: str | None = None) -> Where:
        return Where(
            bucket=bucket,
            key=key,
            endpoint=self.endpoint_url or f"S3 ({self.region})",
            region=self.region,
            scrubber=Scrubber(self.secrets()),
        )

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> S3Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@functools.cache
def _shared_model_loader() -> botocore.loaders.Loader:
    """botocore's service models, parsed once per process instead of once per client.

    A fresh session re-reads and parses the S3 model JSON (~60 ms); the loader holds only that static
    data, never credentials or connections, so sharing it keeps clients per connection as they are.
    """
    return botocore.loaders.create_loader()


def _new_session() -> botocore.session.Session:
    session = botocore.session.Session()
    session.register_component("data_loader", _shared_model_loader())
    return session


_SHARED_SESSION_LOCK = threading.Lock()


@functools.cache
def _shared_session() -> botocore.session.Session:
    """One botocore session for every client with static keys or none, created once per process.

    A new session registers botocore's ~120 built-in handlers (15 ms, a fifth of a preview). The keys go
    to ``create_client`` itself, so this session's own credential chain (environment, shared files,
    instance metadata) is never consulted; an unsigned client resolves no credentials at all. Sessions
    are not thread-safe: clients are created under ``_SHARED_SESSION_LOCK``; each client then has its
    own copy of the event handlers.
    """
    return _new_session()


def make_client(
    settings: Settings,
    *,
    endpoint_url: str | None,
    region: str | None = None,
    addressing_style: AddressingStyle = "path",
    credentials: Credentials | None = None,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    max_pool_connections: int = DEFAULT_POOL,
) -> S3Client:
    """A new S3 client (see module docstring). ``credentials=None`` reads anonymously (unsigned)."""
    keep_signed_headers_out_of_logs()
    pairs = validate_headers(headers.items() if isinstance(headers, Mapping) else headers)
    region = region or DEFAULT_REGION
    config = Config(
        region_name=region,
        signature_version="s3v4" if credentials is not None else botocore.UNSIGNED,
        s3={"addressing_style": addressing_style},
        retries={"mode": "standard", "total_max_attempts": max(1, settings.s3_max_attempts)},
        connect_timeout=settings.s3_connect_timeout,
        read_timeout=settings.s3_read_timeout,
        max_pool_connections=max_pool_connections,
        # Integrity checksums on every request (botocore >= 1.36's default) break several
        # S3-compatible stores; we only read, and S3 checks what it needs.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        # AWS_ENDPOINT_URL* in the environment must not redirect a connection somewhere else.
        ignore_configured_endpoint_urls=True,
        user_agent_extra="datawharf",
    )
    if credentials is None or type(credentials) is Credentials:
        # Static keys (or none): given to create_client, on the process's session (see _shared_session).
        frozen = None if credentials is None else credentials.get_frozen_credentials()
        with _SHARED_SESSION_LOCK:
            raw = _shared_session().create_client(
                "s3",
                endpoint_url=endpoint_url,
                config=config,
                aws_access_key_id=frozen.access_key if frozen else None,
                aws_secret_access_key=frozen.secret_key if frozen else None,
                aws_session_token=frozen.token if frozen else None,
            )
    else:
        # Refreshable credentials (an assumed role) can only reach a client through a session's
        # provider: a session of their own, whose only provider they are.
        session = _new_session()
        session.register_component(
            "credential_provider", CredentialResolver([_GivenCredentials(credentials)])
        )
        raw = session.create_client("s3", endpoint_url=endpoint_url, config=config)
    client = S3Client(raw, endpoint_url, region, addressing_style, pairs, credentials)
    _register_handlers(client, NetGuard(settings))
    return client


def client_for(
    settings: Settings,
    location: S3Location,
    *,
    region: str | None = None,
    credentials: Credentials | None = None,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    max_pool_connections: int = DEFAULT_POOL,
) -> S3Client:
    """A client for a parsed location; ``region`` (the connection's) wins over the URL's."""
    return make_client(
        settings,
        endpoint_url=location.endpoint_url,
        region=region or location.region,
        addressing_style=location.addressing_style,
        credentials=credentials,
        headers=headers,
        max_pool_connections=max_pool_connections,
    )


def _register_handlers(client: S3Client, guard: NetGuard) -> None:
    events = client.raw.meta.events
    headers = client.headers

    def add_headers(request: Any, **_: Any) -> None:
        for name, value in headers:
            if name in request.headers:
                del request.headers[name]
            request.headers[name] = value

    def check_destination(request: Any, **_: Any) -> None:
        guard.check_url(request.url)

    def refuse_redirects(request_dict: dict[str, Any], response: Any, **_: Any) -> None:
        if response is None:
            return
        context = request_dict.setdefault("context", {})
        redirect = context.setdefault("s3_redirect", {})
        redirect["redirected"] = True  # botocore's region redirector: hands off (see module docstring)
        http_response, parsed = response
        status = getattr(http_response, "status_code", None)
        code = (parsed.get("Error", {}) or {}).get("Code")
        if status not in REDIRECT_STATUSES and code not in ("AuthorizationHeaderMalformed", "400"):
            return
        params = redirect.get("params", {}) or {}
        where = client.where(redirect.get("bucket"), params.get("Key"))
        right = response_region(parsed, where.scrubber)
        if right and right != client.region:
            raise wrong_region_error(right, where, parsed)
        if status in REDIRECT_STATUSES:
            raise redirect_refused_error(where, parsed)

    if headers:
        events.register("before-sign.s3", add_headers)
    events.register("before-send.s3", check_destination)
    events.register_first("needs-retry.s3", refuse_redirects)
