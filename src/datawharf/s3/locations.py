"""Where an object lives: every common way of writing an S3 URL, parsed into one `S3Location`.

A user pastes whatever their console shows: an AWS virtual-hosted URL (regional, legacy global,
``s3-<region>``, dualstack, FIPS), a path-style one, ``s3://bucket/key``, an OVH URL, a MinIO URL on a
private host, or a connection URL plus a file name. The rest of datawharf only ever sees the parsed
form, so the rules live here once:

- the host decides the provider, the addressing style and, where the URL shows it, the region;
- an AWS host naming a region botocore does not know is refused (a typo would otherwise surface as a
  confusing DNS or signature error much later);
- keys are percent-decoded as URL paths (``%20`` is a space, ``+`` stays a plus, UTF-8 for the rest);
- a custom host is path-style unless a label ``s3`` shows the virtual-hosted form
  (``bucket.s3.example.com``) or the connection URL it is relative to is its parent domain.

Hand-written because botocore parses no URLs (it builds them) and no well-kept library covers
OVH, dualstack/FIPS and custom hosts together; the region list comes from botocore's own data.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from typing import Literal
from urllib.parse import unquote, urljoin, urlsplit

import idna
from botocore.utils import is_valid_endpoint_url, is_valid_ipv6_endpoint_url

from datawharf.errors import InvalidInput

AddressingStyle = Literal["virtual", "path"]

_AWS_DOMAINS = ("amazonaws.com", "amazonaws.com.cn")

# bucket.s3.region / s3.region / s3-region / s3.dualstack.region / s3-fips(.dualstack).region, then
# the AWS domain. Labels never contain a dot, so the bucket (which may) is everything before.
_AWS_HOST = re.compile(
    r"^(?:(?P<bucket>.+)\.)?"
    r"(?P<service>s3(?:-fips)?)"
    r"(?:(?P<dualstack>\.dualstack)?[.-](?P<region>[a-z0-9-]+))?"
    r"\.(?P<domain>amazonaws\.com(?:\.cn)?)$"
)
# Non-API AWS S3 hosts users paste by mistake: the website endpoints and the console.
_AWS_WEBSITE = re.compile(r"(^|\.)s3-website[.-]")

_OVH_HOST = re.compile(
    r"^(?:(?P<bucket>.+)\.)?s3\.(?P<region>[a-z0-9-]+)\.(?P<tier>io\.|perf\.)?cloud\.ovh\.net$"
)
_DO_HOST = re.compile(r"^(?:(?P<bucket>.+)\.)?(?P<region>[a-z]{3}\d)\.digitaloceanspaces\.com$")
_R2_HOST = re.compile(
    r"^(?:(?P<bucket>.+)\.)?(?P<account>[0-9a-f]{32})(?:\.(?P<jurisdiction>eu|fedramp))?"
    r"\.r2\.cloudflarestorage\.com$"
)

# Provider names for well-known S3-compatible domains reached through the generic ``s3`` label rule.
_PROVIDER_SUFFIXES = {
    "scw.cloud": "scaleway",
    "wasabisys.com": "wasabi",
    "backblazeb2.com": "backblaze",
    "linodeobjects.com": "linode",
}

_REGION_LABEL = re.compile(r"^[a-z]{2,}[a-z0-9-]*[0-9a-z]$")
# A loose bucket name check: AWS is stricter (3-63, lowercase), older buckets and other providers allow
# uppercase and underscores. The point is to catch pasted junk early, not to police the provider.
_BUCKET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$")


@dataclass(frozen=True)
class S3Location:
    """One object (or bucket, or prefix) in one S3 endpoint.

    ``endpoint_url`` is ``None`` only for ``s3://`` URLs without a connection URL: botocore then
    resolves the AWS endpoint from the region. ``bucket`` is ``""`` for an endpoint URL, ``key`` is
    ``""`` for a bucket URL and ends with ``/`` for a prefix.
    """

    endpoint_url: str | None
    addressing_style: AddressingStyle
    bucket: str
    key: str
    region: str | None
    provider: str

    @property
    def is_object(self) -> bool:
        return bool(self.bucket) and bool(self.key) and not self.key.endswith("/")

    @property
    def uri(self) -> str:
        """Short display form, for messages and logs (never carries credentials: URLs here have none)."""
        return f"s3://{self.bucket}/{self.key}" if self.bucket else (self.endpoint_url or "s3://")

    def with_key(self, key: str) -> S3Location:
        return replace(self, key=key)


def parse_location(url: str, *, base_url: str | None = None) -> S3Location:
    """Parse ``url`` (absolute, or relative to the connection URL ``base_url``) into an S3Location.

    Raises InvalidInput with ``malformed_url``, ``not_an_s3_url``, ``invalid_host``, ``unknown_region``
    or ``invalid_bucket_name``.
    """
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput(
            "The URL is empty: give the object's URL, e.g. https://bucket.s3.eu-west-3.amazonaws.com/file.csv.",
            error_code="malformed_url",
        )
    url = url.strip()
    _refuse_control_characters(url)
    base = parse_location(base_url) if base_url else None
    if base_url and not _has_scheme(url):
        try:
            url = _join(base_url.strip(), url)
        except ValueError as exc:  # "//[": urljoin parses a network location out of it, and fails
            raise InvalidInput(
                f"The name {url!r} could not be joined to the connection's URL ({exc}): give a path "
                "relative to it (dir/file.csv), or a full URL.",
                error_code="malformed_url",
            ) from exc
    location = _parse_absolute(url, base_url.strip() if base_url else None)
    if base is not None and base.endpoint_url is not None and location.endpoint_url is None:
        # s3://bucket/key relative to a connection: the connection says where the endpoint is.
        location = replace(
            location,
            endpoint_url=base.endpoint_url,
            addressing_style=base.addressing_style,
            region=base.region,
            provider=base.provider,
        )
    return location


def _has_scheme(url: str) -> bool:
    return re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", url) is not None


def _refuse_control_characters(url: str) -> None:
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise InvalidInput(
            "The URL contains a control character (newline, tab...): paste it again on one line, "
            "and percent-encode such characters in object keys.",
            error_code="malformed_url",
        )


def _join(base_url: str, name: str) -> str:
    """The connection URL taken as a folder, plus a relative file name, as URL joining does."""
    parts = urlsplit(base_url)
    scheme = parts.scheme.lower()
    # urljoin only joins schemes it knows; s3:// joins like http://.
    placeholder = "http" if scheme == "s3" else scheme
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    joined = urljoin(f"{placeholder}://{parts.netloc}{path}", name)
    return scheme + joined[len(placeholder) :] if scheme == "s3" else joined


_CREDENTIALS_IN_URL = (
    "The URL contains a user name or password: remove it and give the credentials in the connection's "
    "authentication instead."
)


def _parse_absolute(url: str, base_url: str | None) -> S3Location:
    try:
        parts = urlsplit(url)
        if parts.username is not None or parts.password is not None:
            raise InvalidInput(_CREDENTIALS_IN_URL, error_code="malformed_url")
        port = parts.port
    except ValueError as exc:
        if "@" in url:
            # Credentials pasted into the URL (a secret with a '/' splits the netloc early): neither the
            # URL nor the parse error, which quotes the netloc, may be repeated.
            raise InvalidInput(
                "The URL could not be parsed: check the host and port, and remove any user name or "
                "password (give credentials in the connection's authentication).",
                error_code="malformed_url",
            ) from None
        raise InvalidInput(
            f"The URL {url!r} could not be parsed ({exc}): check the host and port.",
            error_code="malformed_url",
        ) from exc
    scheme = parts.scheme.lower()
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise InvalidInput(
            "The URL has a query string or fragment: remove it (a presigned URL cannot be used), "
            "and percent-encode '?' as %3F and '#' as %23 in object keys.",
            error_code="malformed_url",
        )
    if scheme == "s3":
        return _parse_s3_scheme(parts.netloc, parts.path, url)
    if not scheme:
        raise InvalidInput(
            f"{url!r} is not a full URL: write https://..., or s3://bucket/key, or give it relative to a "
            "connection's URL.",
            error_code="malformed_url",
        )
    if scheme not in ("http", "https"):
        raise InvalidInput(
            f"The URL scheme {parts.scheme!r} is not S3: use https://..., http://... or s3://bucket/key.",
            error_code="not_an_s3_url",
        )
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise InvalidInput(
            f"The URL {url!r} has no host: give the full URL, e.g. https://bucket.s3.eu-west-3.amazonaws.com/key.",
            error_code="malformed_url",
        )
    _check_host(host)
    netloc_host = f"[{host}]" if ":" in host else host
    path = _decode_path(parts.path, url)

    def endpoint(service_host: str) -> str:
        return f"{scheme}://{service_host}" + (f":{port}" if port is not None else "")

    if host.endswith(_AWS_DOMAINS):
        return _parse_aws(host, path, scheme, port, url)
    for pattern, provider in ((_OVH_HOST, "ovh"), (_DO_HOST, "digitalocean"), (_R2_HOST, "cloudflare_r2")):
        match = pattern.match(host)
        if match:
            bucket = match.group("bucket")
            service_host = host[len(bucket) + 1 :] if bucket else host
            region = match.groupdict().get("region") or ("auto" if provider == "cloudflare_r2" else None)
            return _finish(endpoint(service_host), bucket, path, region, provider, url)

    base_host = (urlsplit(base_url).hostname or "").lower() if base_url else ""
    if base_host and host != base_host and host.endswith("." + base_host) and not _is_ip(host):
        # The connection URL names the endpoint; this host is a bucket under it (custom virtual style).
        return _finish(endpoint(base_host), host[: -len(base_host) - 1], path, None, "custom", url)
    return _parse_custom(host, netloc_host, path, endpoint, url)


def _parse_s3_scheme(netloc: str, raw_path: str, url: str) -> S3Location:
    bucket = netloc
    if not bucket:
        raise InvalidInput(
            f"The URL {url!r} names no bucket: write s3://bucket/key.", error_code="malformed_url"
        )
    _check_bucket(bucket, url)
    key = _decode_path(raw_path, url)[1:] if raw_path else ""
    return S3Location(None, "virtual", bucket, key, None, "aws")


def _parse_aws(host: str, path: str, scheme: str, port: int | None, url: str) -> S3Location:
    if _AWS_WEBSITE.search(host):
        raise InvalidInput(
            f"{host} is an S3 static website endpoint, not the S3 API: use the bucket's API URL, e.g. "
            "https://bucket.s3.<region>.amazonaws.com/key.",
            error_code="not_an_s3_url",
        )
    match = _AWS_HOST.match(host)
    if match is None:
        raise InvalidInput(
            f"{host} is an AWS host but not an S3 endpoint: give the object's S3 URL, e.g. "
            "https://bucket.s3.eu-west-3.amazonaws.com/dir/file.csv.",
            error_code="not_an_s3_url",
        )
    bucket = match.group("bucket")
    region = match.group("region")
    if region == "external-1":  # s3-external-1.amazonaws.com: the historical us-east-1 endpoint
        region = "us-east-1"
    elif region is not None and region not in known_aws_regions():
        raise InvalidInput(
            f"The region {region!r} in {host} is not an AWS region: check the URL's spelling "
            "(e.g. eu-west-3), or upgrade datawharf if the region is new.",
            error_code="unknown_region",
            detail={"region": region},
        )
    service_host = host[len(bucket) + 1 :] if bucket else host
    endpoint_url = f"{scheme}://{service_host}" + (f":{port}" if port is not None else "")
    return _finish(endpoint_url, bucket, path, region, "aws", url)


def _parse_custom(
    host: str, netloc_host: str, path: str, make_endpoint: Callable[[str], str], url: str
) -> S3Location:
    provider = next(
        (name for suffix, name in _PROVIDER_SUFFIXES.items() if host.endswith("." + suffix)), "custom"
    )
    labels = host.split(".")
    if not _is_ip(host) and "s3" in labels[1:]:
        # bucket.s3.region.example.com: the labels before the "s3" label are the bucket.
        at = labels.index("s3", 1)
        bucket = ".".join(labels[:at])
        service = labels[at:]
        region = service[1] if len(service) >= 4 and _REGION_LABEL.match(service[1]) else None
        return _finish(make_endpoint(".".join(service)), bucket, path, region, provider, url)
    region = None
    if labels[0] == "s3" and len(labels) >= 4 and _REGION_LABEL.match(labels[1]):
        region = labels[1]
    return _finish(make_endpoint(netloc_host), None, path, region, provider, url)


def _check_host(host: str) -> None:
    """A host botocore can use: ASCII names (IDNA written out), no percent-escapes, LDH labels.

    Browsers accept ``bucket。example。com`` (ideographic or fullwidth dots), ``bücher.example`` and
    ``127%2e0.0.1`` and rewrite them; botocore refuses them (``Invalid endpoint``), and a host rewritten
    behind the user's back would be another host than the one they see. So they are refused here, with
    the form to write instead when IDNA (UTS 46) gives one.
    """
    if "%" in host:
        raise InvalidInput(
            f"The URL's host {host!r} contains a percent-escape: write the host name plainly, with "
            "ordinary dots (e.g. s3.example.com or 192.0.2.10), not percent-encoded.",
            error_code="invalid_host",
        )
    if not host.isascii():
        try:
            ascii_form = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError:
            ascii_form = None
        hint = f"write it as {ascii_form}" if ascii_form else "write its ASCII (IDNA, xn--...) form"
        raise InvalidInput(
            f"The URL's host {host!r} has characters outside ASCII (a non-Latin letter, or a dot "
            f"such as '。' or '．' that only looks like one): {hint}, with ordinary dots.",
            error_code="invalid_host",
            detail={"ascii_host": ascii_form} if ascii_form else {},
        )


def _check_endpoint(endpoint_url: str) -> None:
    """The last word is botocore's: what it would refuse when the client is made is refused here, as a
    400 naming the rule, instead of a ValueError at the first request."""
    if not (is_valid_endpoint_url(endpoint_url) or is_valid_ipv6_endpoint_url(endpoint_url)):
        host = urlsplit(endpoint_url).hostname
        raise InvalidInput(
            f"The URL's host {host!r} is not a valid host name: use labels of letters, digits and "
            "hyphens (not starting or ending with a hyphen, at most 63 characters each) separated by "
            "dots, or an IP address.",
            error_code="invalid_host",
        )


def _finish(
    endpoint_url: str, bucket: str | None, path: str, region: str | None, provider: str, url: str
) -> S3Location:
    """Virtual style when the host named the bucket, else the first path segment is the bucket."""
    _check_endpoint(endpoint_url)
    if bucket:
        _check_bucket(bucket, url)
        return S3Location(endpoint_url, "virtual", bucket, path[1:], region, provider)
    bucket_part, _, key = path[1:].partition("/")
    if bucket_part:
        _check_bucket(bucket_part, url)
    return S3Location(endpoint_url, "path", bucket_part, key, region, provider)


def _decode_path(raw_path: str, url: str) -> str:
    """Percent-decode a URL path as S3 does: UTF-8, and '+' is a literal plus (not a space)."""
    if not raw_path:
        return "/"
    try:
        return unquote(raw_path, encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"The URL {url!r} has percent-escapes that are not UTF-8: encode the key's characters as UTF-8.",
            error_code="malformed_url",
        ) from exc


def _check_bucket(bucket: str, url: str) -> None:
    if not _BUCKET_NAME.match(bucket) or ".." in bucket:
        raise InvalidInput(
            f"{bucket!r} in {url!r} is not a valid bucket name: bucket names have 3 to 63 letters, "
            "digits, dots and hyphens.",
            error_code="invalid_bucket_name",
            detail={"bucket": bucket},
        )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@cache
def known_aws_regions() -> frozenset[str]:
    """Every region botocore's own partition data knows (commercial, China, GovCloud, ISO...)."""
    from botocore.loaders import create_loader

    data = create_loader().load_data("partitions")
    return frozenset(
        region
        for partition in data["partitions"]
        for region in partition["regions"]
        if not region.endswith("-global")
    )
