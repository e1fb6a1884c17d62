"""Property: no string in any URL, region, header, parameter or identifier field of the API makes it
answer 5xx. Every parser's exception must become a specific 4xx (a 502/503 would be an upstream's fault,
and no request here reaches anything but loopback).

One app (SQLite) for the module, with a saved connection, a published dataset (moto S3) and its
resource, so each route is exercised past its lookups. Strings come from ``STRINGS``: any text, and
URL-shaped text around loopback or reserved hosts (``.invalid``), so no request leaves this machine.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.app import make_app_client, make_settings
from tests.support.moto import MotoServer

API = "/api/automation/v1.0"
EXPLORE = "/api/explore/v2.1"
CSV = b"name;qty;when\napple;3;2024-01-02\npear;5;2024-02-03\n"

# Loopback, reserved (.invalid) or malformed hosts only: no request can leave this machine.
_HOSTS = st.sampled_from(
    (
        "127.0.0.1",
        "[::1",
        "[::1]",
        "[::1]]",
        "[fe80::1%25eth0]",
        "0",
        "bucket.s3.invalid",
        "ex%41mple.invalid",
        "\u3002.invalid",
        "a\uff0eb.invalid",
        "b.s3.us-east1.amazonaws.com",
        "xn--.invalid",
        "a..b.invalid",
        "",
        "127.0.0.1:1:2",
    )
)
_PUNCTUATION = st.text(alphabet="[]:@%/?#\\ .-_~\x00\t\n\u3002\uff0e\u00e9\U0001f600", max_size=12)
_URLS = st.builds(
    lambda scheme, user, host, port, path: f"{scheme}{user}{host}{port}/{path}",
    st.sampled_from(["http://", "https://", "s3://", "HTTP://", "ftp://", "//", ""]),
    st.sampled_from(["", "user@", "u:p@", "@"]),
    _HOSTS,
    st.sampled_from(["", ":", ":0", ":99999", ":-1", ":abc", ":1"]),
    _PUNCTUATION,
)
STRINGS = st.one_of(st.text(max_size=40), _URLS, _PUNCTUATION)
VALUES: st.SearchStrategy[Any] = st.one_of(
    STRINGS,
    st.integers(),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(STRINGS, max_size=2),
)
# 40 examples a property keep the module near a minute; NO5XX_EXAMPLES=500 for a longer hunt.
EXAMPLES = settings(
    max_examples=int(os.environ.get("NO5XX_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)


def test_an_unparsable_url_is_a_specific_400(app: dict[str, Any]) -> None:
    """The two 500s this property found: urlsplit's "Invalid IPv6 URL" in the connection URL check, and
    urljoin's when a relative name starts like a network location."""
    client, uid = app["client"], app["scratch_connection"]
    created = client.post(
        f"{API}/datasource_connections/",
        json=_with(_connection_body(app, "aws_signature_v4"), "url", "http://[::1"),
    )
    assert created.status_code == 400 and created.json()["error_code"] == "malformed_url", created.text
    validated = client.post(f"{API}/datasource_connections/{uid}/validate/", params={"url": "//[::1/x.csv"})
    assert validated.status_code == 400 and validated.json()["error_code"] == "malformed_url", validated.text
    assert "connection's URL" in validated.json()["message"]


def _ok(response: Any) -> None:
    assert response.status_code < 500, (response.request.method, str(response.request.url), response.text)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, moto_server: MotoServer) -> Iterator[dict[str, Any]]:
    home: Path = tmp_path_factory.mktemp("no5xx")
    bucket = moto_server.create_bucket()
    moto_server.put_object(bucket, "fruits.csv", CSV)
    app_settings = make_settings(
        home,
        allowed_private_hosts=[moto_server.host_port],
        s3_max_attempts=1,
        s3_connect_timeout=1.0,
        s3_read_timeout=2.0,
        scheduler_interval=0.2,
    )
    with make_app_client(app_settings) as client:
        connections = [
            client.post(
                f"{API}/datasource_connections/",
                json={
                    "type": "amazon_s3",
                    "title": "moto",
                    "url": f"{moto_server.endpoint_url}/{bucket}/",
                    "auth": {
                        "type": "aws_signature_v4",
                        "access_key_id": "AKIAIOSFODNN7EXAMPLE",
                        "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                        "region": "us-east-1",
                    },
                },
            ).json()["uid"]
            for _ in range(2)
        ]
        connection = connections[0]
        dataset = client.post(
            f"{API}/datasets/",
            json={"dataset_id": "fruits", "metadata": {"default": {"title": {"value": "F"}}}},
        ).json()["uid"]
        resource = client.post(
            f"{API}/datasets/{dataset}/resources/",
            json={
                "type": "csvfile",
                "title": "fruits.csv",
                "datasource": {"type": "amazon_s3", "url": "fruits.csv", "connection": {"uid": connection}},
            },
        )
        assert resource.status_code == 201, resource.text
        assert client.post(f"{API}/datasets/{dataset}/publish/").status_code == 200
        deadline = time.monotonic() + 60
        while client.get(f"{API}/datasets/{dataset}/status/").json()["status"] != "idle":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        yield {
            "client": client,
            "connection": connection,
            "scratch_connection": connections[1],  # the one PUT changes: the resource keeps its own
            "dataset": dataset,
            "resource": resource.json()["uid"],
            "url": f"{moto_server.endpoint_url}/{bucket}/",
        }


def _with(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``base`` with the field at the dotted ``path`` (``auth.region``, ``headers.0.name``) set."""
    copy: Any = json.loads(json.dumps(base))
    *parents, last = path.split(".")
    node = copy
    for part in parents:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    node[int(last) if last.isdigit() else last] = value
    return copy


def _connection_body(app: dict[str, Any], auth_type: str) -> dict[str, Any]:
    auth = {"type": auth_type, "region": "us-east-1"}
    if auth_type == "aws_signature_v4":
        auth.update(
            access_key_id="AKIAIOSFODNN7EXAMPLE", secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXA"
        )
    else:
        auth["role_arn"] = "arn:aws:iam::123456789012:role/r"
    return {
        "type": "amazon_s3",
        "title": "t",
        "description": "d",
        "url": app["url"],
        "headers": [{"name": "x-amz-meta-a", "value": "v"}],
        "auth": auth,
    }


_CONNECTION_FIELDS = ("url", "title", "description", "headers.0.name", "headers.0.value", "auth.region")
_SIGV4_FIELDS = ("auth.access_key_id", "auth.secret_access_key")


@EXAMPLES
@given(
    field=st.sampled_from(_CONNECTION_FIELDS + _SIGV4_FIELDS + ("auth.role_arn",)),
    value=STRINGS,
)
@example(field="url", value="http://[::1")
@example(field="url", value="s3://[::1/k")
@example(field="url", value="//[")
def test_connections_create_update_validate_policy(app: dict[str, Any], field: str, value: str) -> None:
    client, uid = app["client"], app["scratch_connection"]
    auth_type = "iam_role" if field == "auth.role_arn" else "aws_signature_v4"
    body = _with(_connection_body(app, auth_type), field, value)
    if auth_type == "aws_signature_v4":  # an IAM role would call STS: only its ARN's parsing is fuzzed
        _ok(client.post(f"{API}/datasource_connections/", json=body))
    _ok(client.put(f"{API}/datasource_connections/{uid}/", json=body))
    _ok(client.post(f"{API}/datasource_connections/{uid}/validate/", params={"url": value}))
    _ok(client.get(f"{API}/datasource_connections/{uid}/policy/", params={"url": value}))
    _ok(client.get(f"{API}/datasource_connections/{quote(value, safe='')}/"))


_RESOURCE_FIELDS = (
    "type",
    "title",
    "datasource.url",
    "datasource.headers.0.name",
    "datasource.headers.0.value",
    "datasource.connection.uid",
    "params.separator",
    "params.encoding",
    "params.escapechar",
    "params.first_row_no",
    "params.doublequote",
    "params.file_in_archive",
    "params.sheet",
    "params.epsg",
    "params.json_root",
)


@EXAMPLES
@given(
    field=st.sampled_from(_RESOURCE_FIELDS),
    value=VALUES,
    extractor=st.sampled_from(["csvfile", "jsonfile", "geojson", "xlsfile", "jsonl", "parquet"]),
    anonymous=st.booleans(),
)
@example(field="datasource.url", value="http://[::1", extractor="csvfile", anonymous=True)
def test_resources_previews_and_guesses(
    app: dict[str, Any], field: str, value: Any, extractor: str, anonymous: bool
) -> None:
    client, dataset = app["client"], app["dataset"]
    base = {
        "type": extractor,
        "title": "x",
        "params": {},
        "datasource": {
            "type": "amazon_s3",
            "url": app["url"] + "fruits.csv" if anonymous else "fruits.csv",
            "headers": [{"name": "x-amz-meta-a", "value": "v"}],
            "connection": {"uid": app["connection"]},
        },
    }
    body = _with(base, field, value)
    if anonymous and field != "datasource.connection.uid":
        body["datasource"]["connection"] = None
    resources = f"{API}/datasets/{dataset}/resources"
    for route in ("/", "/preview/", "/guess_extractors/", "/guess_extractor_params/"):
        _ok(client.post(resources + route, json=body))
    _ok(client.put(f"{resources}/{app['resource']}/", json=body))
    ident = quote(str(value), safe="")
    for tail in ("", "preview/", "guess_extractors/", "guess_extractors_params/"):
        _ok(client.get(f"{resources}/{ident}/{tail}"))


_DATASET_FIELDS = (
    "dataset_id",
    "metadata.default.title.value",
    "metadata.default.keyword.value",
    "metadata.default.modified.value",
    "metadata.default.title",
    "metadata.default",
    "metadata.custom",
)
_FIELD_VARIANTS = {
    "rename": {"from_name": "name", "to_name": "label", "field_label": "Label"},
    "type": {"field": "qty", "type_param": "int"},
    "annotate": {"field": "name", "annotation": "facet", "args": []},
    "description": {"field": "name", "description": "d"},
    "order": {"args": ["name", "qty"]},
    "delete": {"field": "when"},
}


@EXAMPLES
@given(
    dataset_field=st.sampled_from(_DATASET_FIELDS),
    variant=st.sampled_from(sorted(_FIELD_VARIANTS)),
    property_=st.sampled_from(["label", "from_name", "to_name", "field", "type_param", "annotation", "args"]),
    value=VALUES,
    text=STRINGS,
)
def test_datasets_fields_schedules_and_identifiers(
    app: dict[str, Any], dataset_field: str, variant: str, property_: str, value: Any, text: str
) -> None:
    client, dataset = app["client"], app["dataset"]
    base = {"dataset_id": "fuzzed", "metadata": {"default": {"title": {"value": "t"}}}}
    created = client.post(f"{API}/datasets/", json=_with(base, dataset_field, value))
    _ok(created)
    if created.status_code == 201:
        _ok(client.put(f"{API}/datasets/{created.json()['uid']}/", json=_with(base, dataset_field, text)))
        _ok(client.delete(f"{API}/datasets/{created.json()['uid']}/"))
    _ok(client.get(f"{API}/datasets/", params={"dataset_id": text}))
    field = {"type": variant, "label": "l", **_FIELD_VARIANTS[variant], property_: value}
    made = client.post(f"{API}/datasets/{dataset}/fields/", json=field)
    _ok(made)
    if made.status_code == 201:
        _ok(client.delete(f"{API}/datasets/{dataset}/fields/{made.json()['uid']}/"))
    schedule = client.post(f"{API}/datasets/{dataset}/schedules/", json={"cron_schedule": text})
    _ok(schedule)
    if schedule.status_code == 201:
        _ok(client.delete(f"{API}/datasets/{dataset}/schedules/{schedule.json()['uid']}/"))
    ident = quote(text, safe="")
    for route in ("datasets/{}/", "datasets/{}/status/", "datasets/{}/versions/", "apikeys/{}/"):
        _ok(client.get(f"{API}/{route.format(ident)}"))
    for route in ("fields/{}/", "schedules/{}/", "versions/{}/"):
        _ok(client.get(f"{API}/datasets/{dataset}/{route.format(ident)}"))
    _ok(client.post(f"{API}/datasets/{dataset}/versions/{ident}/restore/"))


@EXAMPLES
@given(
    label=STRINGS,
    permissions=st.lists(st.one_of(STRINGS, st.sampled_from(["edit_dataset"])), max_size=3),
    limit=STRINGS,
    offset=STRINGS,
)
def test_apikeys_and_pagination(
    app: dict[str, Any], label: Any, permissions: Any, limit: str, offset: str
) -> None:
    client = app["client"]
    created = client.post(f"{API}/apikeys/", json={"label": label, "permissions": permissions})
    _ok(created)
    if created.status_code == 201:  # never left behind: revoke it at once
        _ok(client.post(f"{API}/apikeys/{created.json()['uid']}/revoke/", json={}))
    for route in (
        "apikeys/",
        "datasets/",
        "datasource_connections/",
        f"datasets/{app['dataset']}/resources/",
    ):
        _ok(client.get(f"{API}/{route}", params={"limit": limit, "offset": offset}))


_EXPLORE_PARAMS = (
    "where",
    "order_by",
    "select",
    "group_by",
    "refine",
    "exclude",
    "timezone",
    "limit",
    "offset",
)


@EXAMPLES
@given(
    values=st.dictionaries(st.sampled_from(_EXPLORE_PARAMS), STRINGS, min_size=1, max_size=3),
    export=st.sampled_from(
        ["csv", "json", "jsonl", "geojson", "shp", "kml", "fgb", "gpx", "parquet", "xlsx"]
    ),
    catalog_export=st.sampled_from(["csv", "json", "xlsx", "rss", "rdf", "ttl", "dcat", "data.json"]),
    extra=st.sampled_from(
        ["delimiter", "with_bom", "use_labels", "quote_all", "list_separator", "epsg", "lang"]
    ),
    extra_value=STRINGS,
)
def test_explore_params(
    app: dict[str, Any],
    values: dict[str, str],
    export: str,
    catalog_export: str,
    extra: str,
    extra_value: str,
) -> None:
    client = app["client"]
    catalog = f"{EXPLORE}/catalog/datasets"
    _ok(client.get(catalog, params=values))
    _ok(client.get(f"{catalog}/fruits/records", params=values))
    _ok(client.get(f"{catalog}/fruits/exports/{export}", params={**values, extra: extra_value}))
    _ok(client.get(f"{EXPLORE}/catalog/exports/{catalog_export}", params={**values, extra: extra_value}))
    _ok(client.get(f"{catalog}/{quote(values.get('where', 'x'), safe='')}/records"))


_V1_PARAMS = (
    "q",
    "sort",
    "rows",
    "start",
    "facet",
    "fields",
    "timezone",
    "refine.name",
    "exclude.qty",
    "refine.when",
    "geofilter.distance",
    "csv_separator",
)


@EXAMPLES
@given(
    values=st.dictionaries(st.sampled_from(_V1_PARAMS), STRINGS, min_size=1, max_size=3),
    download=st.sampled_from(["csv", "json", "geojson", "parquet", "xlsx", "jsonl"]),
)
@example(values={"q": "(" * 200 + "x"}, download="json")
@example(values={"q": "when:[2024 TO 2024/02] OR qty >= #now(days=-1)"}, download="csv")
def test_v1_params(app: dict[str, Any], values: dict[str, str], download: str) -> None:
    client = app["client"]
    _ok(client.get("/api/datasets/1.0/search/", params=values))
    _ok(client.get("/api/records/1.0/search/", params={"dataset": "fruits", **values}))
    _ok(client.get("/api/records/1.0/download/", params={"dataset": "fruits", "format": download, **values}))
    _ok(client.get("/explore/dataset/fruits/download/", params={"format": download, **values}))
    _ok(client.get(f"/api/datasets/1.0/{quote(values.get('q', 'x'), safe='')}/"))
