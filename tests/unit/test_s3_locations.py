"""Every URL form of PRODUCT.md §1.2, as a table: (url, base_url, expected location)."""

from __future__ import annotations

import pytest

from datawharf.errors import InvalidInput
from datawharf.s3.locations import S3Location, parse_location

AWS = "aws"
V, P = "virtual", "path"


def loc(endpoint: str | None, style: str, bucket: str, key: str, region: str | None, provider: str):
    return S3Location(endpoint, style, bucket, key, region, provider)  # type: ignore[arg-type]


CASES: list[tuple[str, str | None, S3Location]] = [
    # --- AWS virtual-hosted, regional
    (
        "https://bucket.s3.eu-west-3.amazonaws.com/dir/file.csv",
        None,
        loc("https://s3.eu-west-3.amazonaws.com", V, "bucket", "dir/file.csv", "eu-west-3", AWS),
    ),
    (
        "https://my-data.s3.us-east-1.amazonaws.com/a.parquet",
        None,
        loc("https://s3.us-east-1.amazonaws.com", V, "my-data", "a.parquet", "us-east-1", AWS),
    ),
    (
        "https://dotted.bucket.name.s3.ap-southeast-2.amazonaws.com/x/y/z.json",
        None,
        loc(
            "https://s3.ap-southeast-2.amazonaws.com",
            V,
            "dotted.bucket.name",
            "x/y/z.json",
            "ap-southeast-2",
            AWS,
        ),
    ),
    (
        "HTTPS://Bucket.S3.EU-WEST-1.AMAZONAWS.COM/Key.CSV",
        None,
        loc("https://s3.eu-west-1.amazonaws.com", V, "bucket", "Key.CSV", "eu-west-1", AWS),
    ),
    # --- AWS legacy global and s3-<region>
    (
        "https://bucket.s3.amazonaws.com/file.csv",
        None,
        loc("https://s3.amazonaws.com", V, "bucket", "file.csv", None, AWS),
    ),
    (
        "https://bucket.s3-eu-west-1.amazonaws.com/data/file.csv",
        None,
        loc("https://s3-eu-west-1.amazonaws.com", V, "bucket", "data/file.csv", "eu-west-1", AWS),
    ),
    (
        "https://s3-eu-west-1.amazonaws.com/bucket/file.csv",
        None,
        loc("https://s3-eu-west-1.amazonaws.com", P, "bucket", "file.csv", "eu-west-1", AWS),
    ),
    (
        "https://bucket.s3-external-1.amazonaws.com/k",
        None,
        loc("https://s3-external-1.amazonaws.com", V, "bucket", "k", "us-east-1", AWS),
    ),
    (
        "https://s3.amazonaws.com/bucket/file.csv",
        None,
        loc("https://s3.amazonaws.com", P, "bucket", "file.csv", None, AWS),
    ),
    # --- AWS path-style
    (
        "https://s3.eu-west-3.amazonaws.com/bucket/file.csv",
        None,
        loc("https://s3.eu-west-3.amazonaws.com", P, "bucket", "file.csv", "eu-west-3", AWS),
    ),
    (
        "https://s3.eu-west-3.amazonaws.com/bucket",
        None,
        loc("https://s3.eu-west-3.amazonaws.com", P, "bucket", "", "eu-west-3", AWS),
    ),
    (
        "https://s3.eu-west-3.amazonaws.com/bucket/folder/",
        None,
        loc("https://s3.eu-west-3.amazonaws.com", P, "bucket", "folder/", "eu-west-3", AWS),
    ),
    # --- dualstack and FIPS
    (
        "https://bucket.s3.dualstack.eu-central-1.amazonaws.com/file.csv",
        None,
        loc("https://s3.dualstack.eu-central-1.amazonaws.com", V, "bucket", "file.csv", "eu-central-1", AWS),
    ),
    (
        "https://s3.dualstack.us-west-2.amazonaws.com/bucket/file.csv",
        None,
        loc("https://s3.dualstack.us-west-2.amazonaws.com", P, "bucket", "file.csv", "us-west-2", AWS),
    ),
    (
        "https://bucket.s3-fips.us-gov-west-1.amazonaws.com/file.csv",
        None,
        loc("https://s3-fips.us-gov-west-1.amazonaws.com", V, "bucket", "file.csv", "us-gov-west-1", AWS),
    ),
    (
        "https://s3-fips.dualstack.us-east-2.amazonaws.com/bucket/k.csv",
        None,
        loc("https://s3-fips.dualstack.us-east-2.amazonaws.com", P, "bucket", "k.csv", "us-east-2", AWS),
    ),
    (
        "https://bucket.s3.cn-north-1.amazonaws.com.cn/file.csv",
        None,
        loc("https://s3.cn-north-1.amazonaws.com.cn", V, "bucket", "file.csv", "cn-north-1", AWS),
    ),
    # --- s3://
    ("s3://bucket/key.csv", None, loc(None, V, "bucket", "key.csv", None, AWS)),
    ("s3://bucket/deep/er/key.csv", None, loc(None, V, "bucket", "deep/er/key.csv", None, AWS)),
    ("s3://bucket", None, loc(None, V, "bucket", "", None, AWS)),
    ("s3://bucket/prefix/", None, loc(None, V, "bucket", "prefix/", None, AWS)),
    # --- OVH (the seed's example is virtual-hosted on .perf.cloud.ovh.net)
    (
        "https://my-bucket.s3.gra.perf.cloud.ovh.net/fruits.csv",
        None,
        loc("https://s3.gra.perf.cloud.ovh.net", V, "my-bucket", "fruits.csv", "gra", "ovh"),
    ),
    (
        "https://bucket.s3.gra.io.cloud.ovh.net/fruits.csv",
        None,
        loc("https://s3.gra.io.cloud.ovh.net", V, "bucket", "fruits.csv", "gra", "ovh"),
    ),
    (
        "https://s3.gra.io.cloud.ovh.net/bucket/fruits.csv",
        None,
        loc("https://s3.gra.io.cloud.ovh.net", P, "bucket", "fruits.csv", "gra", "ovh"),
    ),
    (
        "https://bucket.s3.sbg.cloud.ovh.net/a/b.csv",
        None,
        loc("https://s3.sbg.cloud.ovh.net", V, "bucket", "a/b.csv", "sbg", "ovh"),
    ),
    (
        "https://s3.eu-west-par.io.cloud.ovh.net/bucket/",
        None,
        loc("https://s3.eu-west-par.io.cloud.ovh.net", P, "bucket", "", "eu-west-par", "ovh"),
    ),
    # --- other providers
    (
        "https://bucket.s3.fr-par.scw.cloud/file.csv",
        None,
        loc("https://s3.fr-par.scw.cloud", V, "bucket", "file.csv", "fr-par", "scaleway"),
    ),
    (
        "https://s3.eu-central-1.wasabisys.com/bucket/file.csv",
        None,
        loc("https://s3.eu-central-1.wasabisys.com", P, "bucket", "file.csv", "eu-central-1", "wasabi"),
    ),
    (
        "https://bucket.s3.us-west-004.backblazeb2.com/file.csv",
        None,
        loc("https://s3.us-west-004.backblazeb2.com", V, "bucket", "file.csv", "us-west-004", "backblaze"),
    ),
    (
        "https://bucket.nyc3.digitaloceanspaces.com/file.csv",
        None,
        loc("https://nyc3.digitaloceanspaces.com", V, "bucket", "file.csv", "nyc3", "digitalocean"),
    ),
    (
        "https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com/bucket/file.csv",
        None,
        loc(
            "https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com",
            P,
            "bucket",
            "file.csv",
            "auto",
            "cloudflare_r2",
        ),
    ),
    # --- custom endpoints
    (
        "http://127.0.0.1:9000/bucket/key.csv",
        None,
        loc("http://127.0.0.1:9000", P, "bucket", "key.csv", None, "custom"),
    ),
    (
        "http://[::1]:9000/bucket/dir/key.csv",
        None,
        loc("http://[::1]:9000", P, "bucket", "dir/key.csv", None, "custom"),
    ),
    (
        "https://minio.example.org/bucket/key.csv",
        None,
        loc("https://minio.example.org", P, "bucket", "key.csv", None, "custom"),
    ),
    (
        "https://bucket.s3.example.org:8443/key.csv",
        None,
        loc("https://s3.example.org:8443", V, "bucket", "key.csv", None, "custom"),
    ),
    (
        "http://localhost:9000/",
        None,
        loc("http://localhost:9000", P, "", "", None, "custom"),
    ),
    (
        "https://data.minio.example.org/dir/key.csv",
        "https://minio.example.org",
        loc("https://minio.example.org", V, "data", "dir/key.csv", None, "custom"),
    ),
    # --- percent-decoding
    (
        "https://bucket.s3.eu-west-3.amazonaws.com/my%20file%20(1).csv",
        None,
        loc("https://s3.eu-west-3.amazonaws.com", V, "bucket", "my file (1).csv", "eu-west-3", AWS),
    ),
    (
        "https://bucket.s3.eu-west-3.amazonaws.com/a+b.csv",
        None,
        loc("https://s3.eu-west-3.amazonaws.com", V, "bucket", "a+b.csv", "eu-west-3", AWS),
    ),
    (
        "https://bucket.s3.eu-west-3.amazonaws.com/qualit%C3%A9/donn%C3%A9es%202024.csv",
        None,
        loc("https://s3.eu-west-3.amazonaws.com", V, "bucket", "qualité/données 2024.csv", "eu-west-3", AWS),
    ),
    (
        "https://bucket.s3.eu-west-3.amazonaws.com/qualité/données.csv",
        None,
        loc("https://s3.eu-west-3.amazonaws.com", V, "bucket", "qualité/données.csv", "eu-west-3", AWS),
    ),
    (
        "https://bucket.s3.eu-west-3.amazonaws.com/a%2Bb%3Fc%23d.csv",
        None,
        loc("https://s3.eu-west-3.amazonaws.com", V, "bucket", "a+b?c#d.csv", "eu-west-3", AWS),
    ),
    (
        "s3://bucket/with%20space/a+b.csv",
        None,
        loc(None, V, "bucket", "with space/a+b.csv", None, AWS),
    ),
    # --- connection URL plus a relative file name
    (
        "fruits.csv",
        "https://my-bucket.s3.gra.perf.cloud.ovh.net",
        loc("https://s3.gra.perf.cloud.ovh.net", V, "my-bucket", "fruits.csv", "gra", "ovh"),
    ),
    (
        "fruits.csv",
        "https://my-bucket.s3.gra.perf.cloud.ovh.net/",
        loc("https://s3.gra.perf.cloud.ovh.net", V, "my-bucket", "fruits.csv", "gra", "ovh"),
    ),
    (
        "2024/file.csv",
        "https://bucket.s3.eu-west-3.amazonaws.com/data",
        loc("https://s3.eu-west-3.amazonaws.com", V, "bucket", "data/2024/file.csv", "eu-west-3", AWS),
    ),
    (
        "my%20file.csv",
        "https://s3.eu-west-3.amazonaws.com/bucket",
        loc("https://s3.eu-west-3.amazonaws.com", P, "bucket", "my file.csv", "eu-west-3", AWS),
    ),
    (
        "bucket/key.csv",
        "http://127.0.0.1:9000",
        loc("http://127.0.0.1:9000", P, "bucket", "key.csv", None, "custom"),
    ),
    (
        "key.csv",
        "s3://bucket/prefix/",
        loc(None, V, "bucket", "prefix/key.csv", None, AWS),
    ),
    (
        "s3://other/key.csv",
        "http://127.0.0.1:9000",
        loc("http://127.0.0.1:9000", P, "other", "key.csv", None, "custom"),
    ),
    (
        "https://bucket.s3.eu-west-3.amazonaws.com/abs.csv",
        "http://127.0.0.1:9000",
        loc("https://s3.eu-west-3.amazonaws.com", V, "bucket", "abs.csv", "eu-west-3", AWS),
    ),
]


@pytest.mark.parametrize(("url", "base_url", "expected"), CASES, ids=[c[0] for c in CASES])
def test_parse_location(url: str, base_url: str | None, expected: S3Location) -> None:
    assert parse_location(url, base_url=base_url) == expected


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 40


BAD: list[tuple[str, str]] = [
    ("", "malformed_url"),
    ("   ", "malformed_url"),
    ("https://bucket.s3.eu-wst-3.amazonaws.com/file.csv", "unknown_region"),
    ("https://s3.mars-north-1.amazonaws.com/bucket/file.csv", "unknown_region"),
    ("https://bucket.s3-moon-1.amazonaws.com/k", "unknown_region"),
    ("ftp://bucket/file.csv", "not_an_s3_url"),
    ("file:///etc/passwd", "not_an_s3_url"),
    ("https://ec2.eu-west-3.amazonaws.com/bucket/file.csv", "not_an_s3_url"),
    ("http://bucket.s3-website-us-east-1.amazonaws.com/index.html", "not_an_s3_url"),
    ("http://bucket.s3-website.eu-west-3.amazonaws.com/index.html", "not_an_s3_url"),
    ("https:///bucket/file.csv", "malformed_url"),
    ("https://host:99999/bucket/key", "malformed_url"),
    ("https://host:port/bucket/key", "malformed_url"),
    ("https://user:pass@s3.eu-west-3.amazonaws.com/bucket/key", "malformed_url"),
    ("https://s3.eu-west-3.amazonaws.com/bucket/key?X-Amz-Signature=abc", "malformed_url"),
    ("https://s3.eu-west-3.amazonaws.com/bucket/key#frag", "malformed_url"),
    ("https://s3.eu-west-3.amazonaws.com/bucket/a%FFb", "malformed_url"),
    ("https://s3.eu-west-3.amazonaws.com/bucket/a\nb", "malformed_url"),
    ("s3:///key", "malformed_url"),
    ("https://s3.eu-west-3.amazonaws.com/b/key", "invalid_bucket_name"),
    ("https://s3.eu-west-3.amazonaws.com/bad!bucket/key", "invalid_bucket_name"),
    ("bucket/file.csv", "malformed_url"),  # relative, without a connection URL
]


@pytest.mark.parametrize(("url", "code"), BAD, ids=[b[0] or "empty" for b in BAD])
def test_bad_urls_are_refused_with_a_code(url: str, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_location(url)
    assert caught.value.error_code == code
    assert caught.value.http_status == 400
    assert len(caught.value.message) > 20


@pytest.mark.parametrize(
    "url",
    [
        "https://AKIAEXAMPLE:pasted-secret@s3.eu-west-3.amazonaws.com:99999/bucket/key",
        "https://AKIAEXAMPLE:pasted-secret@host:port/bucket/key",
        "https://AKIAEXAMPLE:pasted-secret@[::1/bucket/key",
        "https://AKIAEXAMPLE:pasted/secret@host/bucket/key",
    ],
)
def test_credentials_in_a_url_never_reach_the_message(url: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_location(url)
    assert caught.value.error_code == "malformed_url"
    assert "secret" not in caught.value.message and "secret" not in str(caught.value.detail)


def test_unknown_region_message_names_the_region() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_location("https://bucket.s3.eu-wst-3.amazonaws.com/file.csv")
    assert "eu-wst-3" in caught.value.message
    assert caught.value.detail == {"region": "eu-wst-3"}


def test_bad_base_url_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_location("file.csv", base_url="ftp://example.org/")
    assert caught.value.error_code == "not_an_s3_url"


def test_location_helpers() -> None:
    location = parse_location("https://bucket.s3.eu-west-3.amazonaws.com/dir/")
    assert not location.is_object
    assert location.uri == "s3://bucket/dir/"
    obj = location.with_key("dir/file.csv")
    assert obj.is_object and obj.region == "eu-west-3"
