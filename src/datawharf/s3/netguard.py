"""Outbound safety: datawharf only talks to public addresses, unless a host:port is allowed by setting.

A URL is user input, and the service runs next to things users must not reach through it: the cloud
metadata service (169.254.169.254, fd00:ec2::254), the database, an admin port on localhost. So every
host we are about to connect to is resolved, and if ANY of its addresses is loopback, link-local,
private, reserved, multicast, unspecified or otherwise not globally routable, the request is refused,
unless ``host:port`` is listed in ``DATAWHARF_ALLOWED_PRIVATE_HOSTS`` (a MinIO on the LAN, the test
server on loopback).

The S3 client checks the URL of every request just before it is sent (botocore's ``before-send``
event), which also covers endpoints botocore resolves itself. botocore never follows HTTP redirects
(urllib3 is called with ``Retry(False)``), and the client disarms botocore's S3 region redirector and
answers every 3xx with ``wrong_region`` or ``redirect_refused`` (see ``s3.client``), so a 3xx cannot
lead elsewhere.

Known limit: the name is resolved here and again by urllib3 when connecting, so a DNS server that
answers differently within the same second (DNS rebinding) could slip through; pinning the address
would mean replacing botocore's HTTP layer, which is not worth its risk here.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from urllib.parse import urlsplit

from datawharf.errors import InvalidInput, UpstreamUnavailable
from datawharf.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(address: IPAddress) -> list[IPAddress]:
    """IPv4 addresses carried inside an IPv6 one (mapped, 6to4, Teredo, NAT64): check them too."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found: list[IPAddress] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.append(address.teredo[1])
    if address in _NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def refusal_reason(address: IPAddress) -> str | None:
    """Why datawharf must not connect to this address, or None if it is a public unicast address."""
    for inner in _embedded_ipv4(address):
        reason = refusal_reason(inner)
        if reason:
            return reason
    checks = (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("unspecified", address.is_unspecified),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("not globally routable", not address.is_global),
    )
    return next((name for name, hit in checks if hit), None)


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def host_port_label(host: str, port: int) -> str:
    """``host:port`` as written in DATAWHARF_ALLOWED_PRIVATE_HOSTS (IPv6 in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_allowed(host: str, port: int, settings: Settings) -> bool:
    allowed = {entry.strip().lower() for entry in settings.allowed_private_hosts}
    host = host.lower()
    return host_port_label(host, port) in allowed or f"{host}:{port}" in allowed


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host resolves to (a literal IP resolves to itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UpstreamUnavailable(
            f"The host {host} could not be resolved (DNS: {exc}): check the URL's host name and this "
            "server's network and DNS settings.",
            step="endpoint",
            error_code="endpoint_unreachable",
            detail={"host": host},
        ) from exc
    # Strip an IPv6 zone ("fe80::1%eth0") before parsing: the zone does not change the address class.
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def check_host(host: str, port: int, settings: Settings) -> None:
    """Refuse a host:port that resolves to a non-public address, unless settings allow it."""
    host = host.lower().strip("[]").rstrip(".")
    if is_allowed(host, port, settings):
        return
    for address in resolve(host, port):
        reason = refusal_reason(address)
        if reason:
            label = host_port_label(host, port)
            raise InvalidInput(
                f"The host {host} resolves to {address}, a {reason} address, which datawharf does not "
                f"connect to. Use a public endpoint, or, if this server is meant to reach it, add "
                f"{label} to the DATAWHARF_ALLOWED_PRIVATE_HOSTS setting.",
                error_code="private_address_refused",
                detail={"host": host, "port": port, "address": str(address), "reason": reason},
            )


def split_url(url: str) -> tuple[str, int]:
    """The host and port a URL connects to."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(
            f"The URL {url!r} could not be parsed ({exc}).", error_code="malformed_url"
        ) from exc
    if not parts.hostname:
        raise InvalidInput(f"The URL {url!r} has no host.", error_code="malformed_url")
    return parts.hostname, port if port is not None else _default_port(parts.scheme.lower())


def check_endpoint(url: str, settings: Settings) -> None:
    """Refuse a URL whose host resolves to a loopback/link-local/private/reserved address (see module)."""
    host, port = split_url(url)
    check_host(host, port, settings)


class NetGuard:
    """``check_endpoint`` for every request of one client, remembering verdicts for a short while.

    Parallel ranged GETs would otherwise resolve the same name dozens of times a second. Refusals are
    not remembered (they raise every time), so a fixed DNS record is picked up at once.
    """

    def __init__(self, settings: Settings, ttl_seconds: float = 30.0) -> None:
        self._settings = settings
        self._ttl = ttl_seconds
        self._passed: dict[tuple[str, int], float] = {}
        self._lock = threading.Lock()

    def check_url(self, url: str) -> None:
        host, port = split_url(url)
        now = time.monotonic()
        with self._lock:
            checked_at = self._passed.get((host, port))
        if checked_at is not None and now - checked_at < self._ttl:
            return
        check_host(host, port, self._settings)
        with self._lock:
            self._passed[(host, port)] = now
