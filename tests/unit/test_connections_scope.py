"""``check_in_scope`` and ``can_reuse``: the rule itself, case by case (the hostile suite replays it over
HTTP)."""

from __future__ import annotations

import pytest

from datawharf.connections.scope import can_reuse, check_in_scope
from datawharf.errors import InvalidInput
from datawharf.s3.locations import parse_location
from datawharf.store.models import Connection


def connection(url: str | None, *, reusable: bool = True) -> Connection:
    return Connection(uid="co_test", url=url, is_reusable=reusable)


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("https://s3.example.com/bucket/data/", "file.csv"),
        ("https://s3.example.com/bucket/data/", "sub/dir/file.csv"),
        ("https://s3.example.com/bucket/data", "https://s3.example.com:443/bucket/data/file.csv"),
        ("https://s3.example.com/bucket/", "s3://bucket/any/file.csv"),
        ("https://s3.example.com", "https://s3.example.com/any-bucket/file.csv"),
        ("https://bucket.s3.eu-west-3.amazonaws.com/", "https://s3.eu-west-3.amazonaws.com/bucket/k.csv"),
        ("https://s3.eu-west-3.amazonaws.com/bucket/", "https://bucket.s3.eu-west-3.amazonaws.com/k.csv"),
        (None, "https://bucket.s3.eu-west-3.amazonaws.com/k.csv"),
        (None, "s3://bucket/k.csv"),
    ],
)
def test_inside(base: str | None, url: str) -> None:
    check_in_scope(connection(base), parse_location(url, base_url=base))


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("https://s3.example.com/bucket/data/", "http://s3.example.com/bucket/data/file.csv"),
        ("https://s3.example.com/bucket/data/", "https://s3.example.com:8443/bucket/data/file.csv"),
        ("https://s3.example.com/bucket/data/", "https://elsewhere.example.org/bucket/data/file.csv"),
        ("https://s3.example.com/bucket/data/", "https://s3.example.com/other/data/file.csv"),
        ("https://s3.example.com/bucket/data/", "s3://other/data/file.csv"),
        ("https://s3.example.com/bucket/data/", "https://other.s3.example.com/data/file.csv"),
        ("https://s3.example.com/bucket/data/", "../file.csv"),
        ("https://s3.example.com/bucket/data/", "../../other/file.csv"),
        ("https://s3.example.com/bucket/data/", "%2e%2e/file.csv"),
        ("https://s3.example.com/bucket/data/", "https://s3.example.com/bucket/data/../file.csv"),
        ("https://s3.example.com/bucket/data/", "https://s3.example.com/bucket/data%2F..%2Ffile.csv"),
        ("https://s3.example.com/bucket/data/", "https://s3.example.com/bucket/database/file.csv"),
        ("https://s3.example.com/bucket/data/", "https://s3.example.com/bucket/private/file.csv"),
        ("https://bucket.s3.eu-west-3.amazonaws.com/", "https://other.s3.eu-west-3.amazonaws.com/k.csv"),
        (None, "https://s3.example.com/bucket/k.csv"),
    ],
)
def test_outside(base: str | None, url: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_in_scope(connection(base), parse_location(url, base_url=base))
    assert refused.value.error_code == "url_outside_connection"
    assert refused.value.detail["connection_uid"] == "co_test"


def test_can_reuse_needs_a_reusable_connection_and_edit_domain() -> None:
    assert can_reuse(connection("https://s3.example.com/b/"), ["edit_domain"])
    assert not can_reuse(connection("https://s3.example.com/b/"), ["create_dataset", "edit_dataset"])
    assert not can_reuse(connection("https://s3.example.com/b/", reusable=False), ["edit_domain"])
