"""Outbound safety: which addresses are refused, and how a setting lets one host:port through."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from datawharf.errors import InvalidInput
from datawharf.s3.netguard import NetGuard, check_endpoint, refusal_reason
from datawharf.settings import Settings

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"),
    ("fd00:ec2::254", "private"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("100.64.0.1", "not globally routable"),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:169.254.169.254", "link-local"),
    ("2002:7f00:1::1", "loopback"),  # 6to4 wrapping 127.0.0.1
    ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 wrapping 169.254.169.254
]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_non_public_addresses_are_refused(address: str, reason: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", ["8.8.8.8", "52.95.150.10", "2a05:d018::1", "2606:4700::6810:84e5"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://127.0.0.1:9000/bucket/key",
        "https://localhost/bucket",
        "http://10.0.0.5:9000",
    ],
)
def test_check_endpoint_refuses_and_names_the_setting(url: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_endpoint(url, Settings(home=tmp_path))
    assert caught.value.error_code == "private_address_refused"
    assert "DATAWHARF_ALLOWED_PRIVATE_HOSTS" in caught.value.message
    assert caught.value.detail["host"] in caught.value.message


def test_the_setting_allows_exactly_host_and_port(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path, allowed_private_hosts=["127.0.0.1:9000", "[::1]:9000", "minio.lan:443"]
    )
    check_endpoint("http://127.0.0.1:9000/bucket/key", settings)
    check_endpoint("http://[::1]:9000/bucket/key", settings)
    with pytest.raises(InvalidInput):
        check_endpoint("http://127.0.0.1:9001/bucket/key", settings)  # another port
    with pytest.raises(InvalidInput):
        check_endpoint("http://127.0.0.1/bucket/key", settings)  # default port 80


def test_default_ports_follow_the_scheme(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, allowed_private_hosts=["localhost:443"])
    check_endpoint("https://localhost/bucket", settings)
    with pytest.raises(InvalidInput):
        check_endpoint("http://localhost/bucket", settings)


def test_the_setting_is_read_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAWHARF_ALLOWED_PRIVATE_HOSTS", "127.0.0.1:9000, 10.0.0.5:9000")
    settings = Settings(home=tmp_path)
    check_endpoint("http://10.0.0.5:9000/b", settings)


def test_guard_refuses_every_time_and_remembers_passes(tmp_path: Path) -> None:
    guard = NetGuard(Settings(home=tmp_path, allowed_private_hosts=["127.0.0.1:9000"]))
    guard.check_url("http://127.0.0.1:9000/b/k")
    guard.check_url("http://127.0.0.1:9000/b/k2")
    for _ in range(2):
        with pytest.raises(InvalidInput):
            guard.check_url("http://169.254.169.254/latest/")


def test_unresolvable_host_is_unreachable(tmp_path: Path) -> None:
    from datawharf.errors import UpstreamUnavailable

    with pytest.raises(UpstreamUnavailable) as caught:
        check_endpoint("https://no-such-host.invalid/bucket", Settings(home=tmp_path))
    assert caught.value.error_code == "endpoint_unreachable"
    assert caught.value.detail["step"] == "endpoint"
