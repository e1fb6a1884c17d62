"""Prefix and glob datasources: which URLs name many objects, what S3 is asked to list, what matches."""

from __future__ import annotations

import pytest

from datawharf.connections.scope import check_in_scope
from datawharf.errors import InvalidInput
from datawharf.s3.listing import KeyPattern, mark_wildcards
from datawharf.s3.locations import parse_location
from datawharf.store.models import Connection


def pattern_of(url: str) -> KeyPattern | None:
    return KeyPattern.of(parse_location(mark_wildcards(url)).key)


def test_a_plain_key_is_one_object_and_an_encoded_wildcard_stays_literal() -> None:
    assert pattern_of("s3://bucket/exports/stations.csv.gz") is None
    assert pattern_of("s3://bucket/exports/star%2A%3F%5Bx%5D.csv") is None
    assert parse_location(mark_wildcards("s3://bucket/a%2Ab.csv")).key == "a*b.csv"


@pytest.mark.parametrize(
    ("url", "prefix", "matching", "not_matching"),
    [
        (
            "s3://bucket/exports/**/stations-*.csv.gz",
            "exports/",
            ["exports/stations-1.csv.gz", "exports/2026/12/02/stations-a.csv.gz"],
            ["exports/2026/other-1.csv.gz", "exports/2026/stations-1.csv", "elsewhere/stations-1.csv.gz"],
        ),
        (
            "s3://bucket/logs/2026-1?/part-[0-9].csv",
            "logs/2026-1",
            ["logs/2026-10/part-3.csv", "logs/2026-12/part-0.csv"],
            ["logs/2026-1/part-3.csv", "logs/2026-10/part-x.csv", "logs/2026-10/x/part-3.csv"],
        ),
        (
            "s3://bucket/parts/",
            "parts/",
            ["parts/a.csv", "parts/deep/er/b.csv"],
            ["parts/", "parts/folder/", "partsx/a.csv"],
        ),
        ("http://[::1]:9000/bucket/a*.csv", "a", ["a1.csv", "a.csv"], ["a/1.csv", "b1.csv"]),
        ("s3://bucket/lit%2A/*.csv", "lit*/", ["lit*/x.csv"], ["litx/x.csv"]),
    ],
)
def test_the_listing_prefix_and_the_matches(
    url: str, prefix: str, matching: list[str], not_matching: list[str]
) -> None:
    pattern = pattern_of(url)
    assert pattern is not None
    assert pattern.listing_prefix == prefix
    assert [key for key in matching if pattern.matches(key)] == matching
    assert [key for key in not_matching if pattern.matches(key)] == []


def test_the_pattern_is_shown_as_written() -> None:
    pattern = pattern_of("s3://bucket/exports/**/stations-?.csv")
    assert pattern is not None
    assert pattern.text == "exports/**/stations-?.csv"


BASE = "https://s3.example.com/bucket/data/"


@pytest.mark.parametrize(
    "url", ["**/*.csv", "*.csv", "sub/", "https://s3.example.com/bucket/data/x-[0-9].csv"]
)
def test_a_pattern_under_the_connection_lists_only_under_its_prefix(url: str) -> None:
    location = parse_location(mark_wildcards(url), base_url=BASE)
    check_in_scope(Connection(uid="co_test", url=BASE, is_reusable=True), location)
    pattern = KeyPattern.of(location.key)
    assert pattern is not None
    assert pattern.listing_prefix.startswith("data/")


@pytest.mark.parametrize(
    "url",
    [
        "https://s3.example.com/bucket/dat*/x.csv",  # would list data2/, database/...
        "https://s3.example.com/bucket/*",
        "https://s3.example.com/bucket/**/data/x.csv",
        "https://s3.example.com/other/data/*.csv",
        "../*.csv",
    ],
)
def test_a_pattern_reaching_beyond_the_connection_is_refused(url: str) -> None:
    connection = Connection(uid="co_test", url=BASE, is_reusable=True)
    with pytest.raises(InvalidInput) as caught:
        check_in_scope(connection, parse_location(mark_wildcards(url), base_url=BASE))
    assert caught.value.error_code == "url_outside_connection"
