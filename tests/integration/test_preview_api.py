"""The unsaved-resource routes (guess_extractors, guess_extractor_params, preview) and GET /extractors/,
through the API, over real files uploaded to the moto server: every format in every container, the
real-world corpus, the bounded-bytes preview of a large object, and the bad input."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import random
import time
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import zstandard
from fastapi.testclient import TestClient

from tests.support.app import make_app_client, make_settings
from tests.support.files import (
    CORPUS,
    HEADER,
    ROWS,
    make_ods,
    make_parquet,
    make_xls,
    make_xlsx,
    tar_bytes,
    zip_bytes,
)
from tests.support.moto import MotoServer, S3Bucket
from tests.unit.test_extract_csv import CORPUS_TABLE

API = "/api/automation/v1.0"
MiB = 1024 * 1024
KEY = {
    "access_key_id": "AKIAIOSFODNN7EXAMPLE",
    "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
}


# -- one app, one bucket, one connection and one dataset for the module (the app start is the slow part)
class Env:
    def __init__(self, client: TestClient, bucket: S3Bucket, connection: str, dataset: str) -> None:
        self.client, self.bucket, self.connection, self.dataset = client, bucket, connection, dataset

    def datasource(self, key: str, **extra: Any) -> dict[str, Any]:
        return {
            "type": "amazon_s3",
            "url": self.bucket.url(key),
            "connection": {"uid": self.connection},
            **extra,
        }

    def post(self, route: str, key: str, **body: Any) -> Any:
        return self.client.post(
            f"{API}/datasets/{self.dataset}/resources/{route}/",
            json={"datasource": self.datasource(key), **body},
        )

    def preview(self, key: str, **body: Any) -> dict[str, Any]:
        response = self.post("preview", key, **body)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def error(self, route: str, key: str, **body: Any) -> dict[str, Any]:
        response = self.post(route, key, **body)
        assert response.status_code == 400, response.text
        return dict(response.json())


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, moto_server: MotoServer) -> Iterator[Env]:
    settings = make_settings(tmp_path_factory.mktemp("home"), allowed_private_hosts=[moto_server.host_port])
    with make_app_client(settings) as client:
        connection = client.post(
            f"{API}/datasource_connections/",
            json={
                "type": "amazon_s3",
                "title": "moto",
                "url": moto_server.endpoint_url,
                "auth": {"type": "aws_signature_v4", **KEY, "region": "us-east-1"},
            },
        )
        assert connection.status_code == 201, connection.text
        dataset = client.post(f"{API}/datasets/", json={"metadata": {"default": {"title": {"value": "P"}}}})
        assert dataset.status_code == 201, dataset.text
        bucket = S3Bucket(moto_server, moto_server.create_bucket())
        yield Env(client, bucket, connection.json()["uid"], dataset.json()["uid"])


# -- every format x every container ----------------------------------------------------------------
def make_csv() -> bytes:
    lines = [",".join(HEADER)] + [f"{s},{c},{o.isoformat()},{r}" for s, c, o, r in ROWS]
    return ("\n".join(lines) + "\n").encode()


def _record(row: list[Any]) -> dict[str, Any]:
    return dict(zip(HEADER, [row[0], row[1], row[2].isoformat(), row[3]], strict=True))


def make_json() -> bytes:
    return json.dumps([_record(row) for row in ROWS], ensure_ascii=False).encode()


def make_jsonl() -> bytes:
    return b"".join(json.dumps(_record(row)).encode() + b"\n" for row in ROWS)


def make_geojson() -> bytes:
    features = [
        {
            "type": "Feature",
            "properties": _record(row),
            "geometry": {"type": "Point", "coordinates": [2.35 + i / 100, 48.85 + i / 100]},
        }
        for i, row in enumerate(ROWS)
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


# format: (file name, maker, extractor, guessed params subset)
FORMATS: dict[str, tuple[str, Callable[[], bytes], str, dict[str, Any]]] = {
    "csv": ("stations.csv", make_csv, "csvfile", {"separator": ",", "headers_first_row": True}),
    "json": ("stations.json", make_json, "jsonfile", {"json_root": ""}),
    "jsonl": ("stations.jsonl", make_jsonl, "jsonl", {}),
    "geojson": ("stations.geojson", make_geojson, "geojson", {"epsg": 4326}),
    "xlsx": ("stations.xlsx", make_xlsx, "xlsfile", {"sheet": "Stations", "first_row_no": 3}),
    "xls": ("stations.xls", make_xls, "xlsfile", {"sheet": "Stations", "first_row_no": 3}),
    "ods": ("stations.ods", make_ods, "xlsfile", {"sheet": "Stations", "first_row_no": 3}),
    "parquet": ("stations.parquet", make_parquet, "parquet", {}),
}


COMPRESSIONS: dict[str, Callable[[str, bytes], tuple[str, bytes]]] = {
    "none": lambda name, data: (name, data),
    "gz": lambda name, data: (name + ".gz", gzip.compress(data)),
    "bz2": lambda name, data: (name + ".bz2", bz2.compress(data)),
    "zst": lambda name, data: (name + ".zst", zstandard.ZstdCompressor().compress(data)),
    "zip": lambda name, data: ("export.zip", zip_bytes({"LISEZMOI.md": b"# export", name: data})),
    "tar": lambda name, data: ("export.tar", tar_bytes({f"export/{name}": data}, "w")),
    "tar.gz": lambda name, data: ("export.tar.gz", tar_bytes({f"export/{name}": data}, "w:gz")),
}
TYPES = {"station": "text", "capacity": "int", "opened": "date", "ratio": "double"}


@pytest.mark.parametrize("compression", list(COMPRESSIONS))
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_in_every_container(env: Env, fmt: str, compression: str) -> None:
    name, make, extractor, params = FORMATS[fmt]
    filename, blob = COMPRESSIONS[compression](name, make())
    key = f"matrix/{fmt}/{compression}/{filename}"
    env.bucket.put(key, blob)
    body = env.preview(key)
    assert body["type"] == body["extractor"] == extractor
    assert {k: body["params"][k] for k in params} == params
    types = {f["name"]: f["type"] for f in body["fields"]}
    assert {k: types[k] for k in TYPES} == TYPES
    expected_names = [*HEADER, "geo_shape", "geo_point_2d"] if fmt == "geojson" else HEADER
    assert sorted(types) == sorted(expected_names)
    assert {f["label"] for f in body["fields"]} >= set(HEADER)
    assert len(body["records"]) == 20
    assert {k: body["records"][0][k] for k in HEADER} == {
        "station": "Station 0",
        "capacity": 10,
        "opened": "2024-01-01",
        "ratio": 2.5,
    }
    assert body["records"][19]["station"] == "Station 19"
    if fmt == "geojson":
        assert body["records"][1]["geo_point_2d"] == {"lon": 2.36, "lat": 48.86}
        assert body["records"][1]["geo_shape"] == {"type": "Point", "coordinates": [2.36, 48.86]}
    assert 0 < body["bytes_fetched"] <= len(blob) + 64 * 1024
    if compression == "none":  # posting back what the preview answered gives the same preview
        again = env.preview(key, type=body["type"], params=body["params"])
        assert again["records"] == body["records"] and again["fields"] == body["fields"]


# -- the real-world corpus --------------------------------------------------------------------------
# Non-delimited corpus files: (file, extractor, guessed params subset, records in the preview, values of
# the first record). The delimited ones come from the CSV engineer's table (MANIFEST.md expectations).
OTHER_CORPUS = [
    ("ods-v21-export-json-array.json", "jsonfile", {"json_root": ""}, 10, {"name": "Charcot - Benfleet"}),
    (
        "ods-v1-export-json-array-datasetid-fields.json",
        "jsonfile",
        {"json_root": "", "json_object": "fields"},
        10,
        {"is_renting": "OUI"},
    ),
    (
        "socrata-rows-json-meta-data-arrays.json",
        "jsonfile",
        {"json_root": "data"},
        20,
        {"community_area_name": "Douglas", "zip_code": "60616"},  # a JSON string stays text
    ),
    ("vbb-change-positions.jsonl", "jsonl", {}, 20, {"stationname": "Bismarckstraße", "fromposition": 0.2}),
    (
        "geojson-featurecollection-points-velib.geojson",
        "geojson",
        {"epsg": 4326},
        20,
        {"capacity": 20, "geo_point_2d": {"lon": 2.392570674, "lat": 48.855907556}},
    ),
]


def test_corpus_tables_cover_every_file() -> None:
    files = {p.name for p in CORPUS.iterdir() if p.name != "MANIFEST.md"}
    assert files == {row[0] for row in CORPUS_TABLE} | {row[0] for row in OTHER_CORPUS}
    assert len(files) >= 20


@pytest.mark.parametrize(
    ("name", "sep", "encoding", "first_row", "headers", "width", "records"), CORPUS_TABLE
)
def test_corpus_delimited_files_through_the_api(
    env: Env, name: str, sep: str, encoding: str, first_row: int, headers: bool, width: int, records: int
) -> None:
    data = (CORPUS / name).read_bytes()
    env.bucket.put(f"corpus/{name}", data)
    ranking = env.post("guess_extractors", f"corpus/{name}").json()
    assert ranking[0]["type"] == "csvfile"
    guessed = env.post("guess_extractor_params", f"corpus/{name}", type="csvfile").json()
    assert guessed["extractor"] == "csvfile"
    expected = {
        "separator": sep,
        "encoding": encoding,
        "first_row_no": first_row,
        "headers_first_row": headers,
    }
    assert {k: guessed["params"][k] for k in expected} == expected
    body = env.preview(f"corpus/{name}")
    assert body["params"] == guessed["params"]
    assert len(body["fields"]) == width
    assert len(body["records"]) == min(20, records)
    assert body["bytes_fetched"] == len(data)  # small files: read whole, once


def test_corpus_latin1_reads_as_the_utf8_original(env: Env) -> None:
    for name in ("insee-cog-reg2016-tab.tsv", "insee-cog-reg2016-tab-latin1.tsv"):
        env.bucket.put(f"cog/{name}", (CORPUS / name).read_bytes())
    utf8 = env.preview("cog/insee-cog-reg2016-tab.tsv")
    latin1 = env.preview("cog/insee-cog-reg2016-tab-latin1.tsv")
    assert latin1["records"] == utf8["records"]
    assert any("é" in str(value) for record in latin1["records"] for value in record.values())


@pytest.mark.parametrize(("name", "extractor", "params", "records", "first"), OTHER_CORPUS)
def test_corpus_json_files_through_the_api(
    env: Env, name: str, extractor: str, params: dict[str, Any], records: int, first: dict[str, Any]
) -> None:
    env.bucket.put(f"corpus/{name}", (CORPUS / name).read_bytes())
    body = env.preview(f"corpus/{name}")
    assert body["type"] == extractor
    assert {k: body["params"][k] for k in params} == params
    assert len(body["records"]) == records
    assert {k: body["records"][0][k] for k in first} == first


# -- guessing ---------------------------------------------------------------------------------------
def test_guess_extractors_ranks_best_first_in_the_extractor_shape(env: Env) -> None:
    geojson = (CORPUS / "geojson-featurecollection-points-velib.geojson").read_bytes()
    jsonl = (CORPUS / "vbb-change-positions.jsonl").read_bytes()
    env.bucket.put("rank/velib.geojson", geojson)
    env.bucket.put("rank/features.json", geojson)  # the content decides, not only the name
    env.bucket.put("rank/changes.jsonl.gz", gzip.compress(jsonl))
    env.bucket.put(
        "rank/stations.zip", zip_bytes({"LISEZMOI.md": b"# lisez-moi", "stations.xlsx": make_xlsx()})
    )
    env.bucket.put("rank/noise.csv", random.Random(7).randbytes(50_000))

    def ranking(key: str) -> list[str]:
        response = env.post("guess_extractors", key)
        assert response.status_code == 200, response.text
        return [entry["type"] for entry in response.json()]

    assert ranking("rank/velib.geojson") == ["geojson", "jsonfile"]
    assert ranking("rank/features.json")[0] == "geojson"
    assert ranking("rank/changes.jsonl.gz") == ["jsonl", "jsonfile"]
    assert ranking("rank/stations.zip") == ["xlsfile"]
    # Noise named .csv: only the name speaks for csvfile, with a score near zero.
    noise = env.post("guess_extractors", "rank/noise.csv").json()
    assert [(e["type"], e["score"] < 0.1) for e in noise] == [("csvfile", True)]
    env.bucket.put("rank/noise.bin", random.Random(7).randbytes(50_000))
    assert ranking("rank/noise.bin") == []
    entries = env.post("guess_extractors", "rank/velib.geojson").json()
    assert entries[0]["score"] > entries[1]["score"] > 0
    assert entries[0]["label"] and {"name", "type", "is_mandatory"} <= set(entries[0]["parameters"][0])


def test_guess_extractor_params_keeps_given_params_and_the_forced_type(env: Env) -> None:
    env.bucket.put("params/mf.csv", (CORPUS / "meteofrance-semicolon-plain.csv").read_bytes())
    guessed = env.post("guess_extractor_params", "params/mf.csv", type="csvfile").json()
    assert guessed == {
        "extractor": "csvfile",
        "params": {
            "encoding": "utf-8",
            "separator": ";",
            "escapechar": None,
            "doublequote": True,
            "first_row_no": 1,
            "headers_first_row": True,
            "extract_filename": False,
        },
    }
    kept = env.post("guess_extractor_params", "params/mf.csv", type="csvfile", params={"separator": ","})
    assert kept.json()["params"]["separator"] == ","
    assert kept.json()["params"]["encoding"] == "utf-8"
    missing = env.error("guess_extractor_params", "params/mf.csv")
    assert missing["error_code"] == "validation_error" and "type" in missing["detail"]
    unknown = env.error("guess_extractor_params", "params/mf.csv", type="pdffile")
    assert unknown["error_code"] == "unknown_extractor"


def test_file_in_archive_picks_the_member(env: Env) -> None:
    env.bucket.put("member/both.zip", zip_bytes({"notes.csv": b"a;b\n1;2\n", "stations.xlsx": make_xlsx()}))
    first = env.preview("member/both.zip")
    assert first["type"] == "csvfile" and first["records"] == [{"a": 1, "b": 2}]
    chosen = env.preview("member/both.zip", params={"file_in_archive": "stations.xlsx"})
    assert chosen["type"] == "xlsfile" and chosen["records"][0]["station"] == "Station 0"
    missing = env.error("preview", "member/both.zip", params={"file_in_archive": "nope.csv"})
    assert missing["error_code"] == "archive_member_not_found"


def test_preview_with_given_params_and_type(env: Env) -> None:
    env.bucket.put("given/mf.csv", (CORPUS / "meteofrance-semicolon-plain.csv").read_bytes())
    body = env.preview("given/mf.csv", type="csvfile", params={"first_row_no": 2, "headers_first_row": False})
    assert body["params"]["separator"] == ";"  # still guessed
    assert [f["name"] for f in body["fields"]] == [f"column_{i}" for i in range(1, 9)]
    plain = env.preview("given/mf.csv")
    assert [f["name"] for f in plain["fields"]][:3] == ["num_poste", "nom_usuel", "lat"]
    # Without a header row, the first record is the first data line, values typed the same way.
    assert list(body["records"][0].values()) == list(plain["records"][0].values())
    assert body["records"][0]["column_1"] == "07005001"


def test_saved_resource_extractors_ranking(env: Env) -> None:
    created = env.client.post(f"{API}/datasets/", json={"metadata": {"default": {"title": {"value": "S"}}}})
    dataset = created.json()["uid"]
    env.bucket.put("saved/changes.jsonl", (CORPUS / "vbb-change-positions.jsonl").read_bytes())
    resource = env.client.post(
        f"{API}/datasets/{dataset}/resources/",
        json={"type": "jsonl", "title": "Changes", "datasource": env.datasource("saved/changes.jsonl")},
    )
    assert resource.status_code == 201, resource.text
    route = f"{API}/datasets/{dataset}/resources/{resource.json()['uid']}/guess_extractors/"
    response = env.client.get(route)
    assert response.status_code == 200, response.text
    assert [entry["type"] for entry in response.json()] == ["jsonl", "jsonfile"]
    missing = env.client.get(f"{API}/datasets/{dataset}/resources/re_nosuch/guess_extractors/")
    assert missing.status_code == 404


# -- the datasource: saved, inline, anonymous; unknown dataset; nothing saved ----------------------
def test_inline_and_anonymous_datasources_save_nothing(env: Env) -> None:
    env.bucket.put("ds/mf.csv", (CORPUS / "meteofrance-semicolon-plain.csv").read_bytes(), ACL="public-read")
    connections = env.client.get(f"{API}/datasource_connections/").json()["total_count"]
    url = env.bucket.url("ds/mf.csv")
    inline = {
        "type": "amazon_s3",
        "url": env.bucket.server.endpoint_url,
        "auth": {"type": "aws_signature_v4", **KEY, "region": "us-east-1"},
    }
    route = f"{API}/datasets/{env.dataset}/resources/preview/"
    saved = env.preview("ds/mf.csv")
    for datasource in (
        {"type": "amazon_s3", "url": url, "connection": inline},
        {"type": "amazon_s3", "url": url},  # anonymous: a public-read object
        {
            "type": "amazon_s3",
            "url": url,
            "connection": None,
            "headers": [{"name": "x-trace", "value": "42"}],
        },
    ):
        response = env.client.post(route, json={"datasource": datasource})
        assert response.status_code == 200, (datasource, response.text)
        assert response.json()["records"] == saved["records"]
        assert KEY["secret_access_key"] not in response.text
    assert env.client.get(f"{API}/datasource_connections/").json()["total_count"] == connections
    assert env.client.get(f"{API}/datasets/{env.dataset}/resources/").json()["total_count"] == 0


def test_unknown_dataset_connection_and_datasource_type(env: Env) -> None:
    env.bucket.put("ds/x.csv", b"a,b\n1,2\n")
    unknown = env.client.post(
        f"{API}/datasets/da_nosuchdataset/resources/preview/", json={"datasource": env.datasource("ds/x.csv")}
    )
    assert unknown.status_code == 404 and unknown.json()["error_code"] == "dataset_not_found"
    route = f"{API}/datasets/{env.dataset}/resources/preview/"
    missing_connection = env.client.post(
        route,
        json={
            "datasource": {
                "type": "amazon_s3",
                "url": env.bucket.url("ds/x.csv"),
                "connection": {"uid": "co_nope"},
            }
        },
    )
    assert missing_connection.status_code == 404
    assert missing_connection.json()["error_code"] == "connection_not_found"
    http = env.client.post(route, json={"datasource": {"type": "http", "url": "https://example.com/x.csv"}})
    assert http.status_code == 400 and http.json()["error_code"] == "invalid_datasource"
    no_body = env.client.post(route, json={})
    assert no_body.status_code == 400 and no_body.json()["detail"] == {"datasource": ["Field required"]}
    missing_object = env.client.post(route, json={"datasource": env.datasource("ds/nothing-here.csv")})
    assert missing_object.status_code in (400, 404)
    assert "nothing-here.csv" in missing_object.json()["message"]
    for headers in ([5], "x-amz-request-payer", [{"name": "x-amz-meta-k", "value": 12345678}]):
        bad_headers = env.client.post(
            route, json={"datasource": {**env.datasource("ds/x.csv"), "headers": headers}}
        )
        assert bad_headers.status_code == 400, bad_headers.text
        assert bad_headers.json()["error_code"] == "invalid_datasource"
        assert "12345678" not in bad_headers.text


def test_list_extractors(env: Env) -> None:
    response = env.client.get(f"{API}/extractors/")
    assert response.status_code == 200
    listed = {entry["type"]: entry for entry in response.json()}
    assert set(listed) == {"csvfile", "jsonfile", "jsonl", "geojson", "xlsfile", "parquet"}
    csv_params = {p["name"]: p for p in listed["csvfile"]["parameters"]}
    assert {"encoding", "separator", "escapechar", "doublequote", "first_row_no", "headers_first_row"} <= set(
        csv_params
    )
    assert "file_in_archive" in csv_params
    assert {"type", "is_mandatory", "name", "label"} <= set(csv_params["separator"])
    assert listed["jsonfile"]["label"]
    assert {p["name"] for p in listed["jsonfile"]["parameters"]} >= {"json_root", "json_object"}
    anonymous = env.client.get(f"{API}/extractors/", headers={"Authorization": ""})
    assert anonymous.status_code == 401


# -- bad input: a specific error_code each, in bounded time, and the server carries on ----------------
def _many_members(count: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for i in range(count):
            archive.writestr(zipfile.ZipInfo(f"part-{i}.csv"), b"")
    return buffer.getvalue()


HTML_XLSX = b"<!DOCTYPE html>\n<html><body><table><tr><td>a</td></tr></table></body></html>\n"
BAD_INPUT: list[tuple[str, Callable[[], bytes], dict[str, Any], str]] = [
    ("garbage.csv", lambda: random.Random(4).randbytes(200_000), {}, "binary_content"),
    ("empty.csv", lambda: b"", {}, "empty_file"),
    ("cut.csv.gz", lambda: (g := gzip.compress(make_csv() * 50))[: len(g) // 2], {}, "compressed_truncated"),
    ("bomb.zip", lambda: zip_bytes({"bomb.csv": b"\x00" * (64 * MiB)}), {}, "archive_ratio_exceeded"),
    ("many.zip", lambda: _many_members(100_000), {}, "archive_too_many_members"),
    ("export.xlsx", lambda: HTML_XLSX, {}, "spreadsheet_is_html"),
    ("deep.json", lambda: b"[" * 100_000 + b"]" * 100_000, {}, "json_too_deep"),
    # One 20 MiB line: past the preview's 8 MiB (settings.preview_max_bytes) without a complete record.
    ("one-line.csv", lambda: b"a;" * (10 * MiB), {}, "no_complete_record"),
    (
        "latin1.tsv",
        lambda: (CORPUS / "insee-cog-reg2016-tab-latin1.tsv").read_bytes(),
        {"type": "csvfile", "params": {"encoding": "utf-8"}},
        "invalid_encoding",
    ),
]


@pytest.mark.parametrize(("name", "make", "body", "code"), BAD_INPUT, ids=[row[0] for row in BAD_INPUT])
def test_bad_input_is_a_400_with_its_code(
    env: Env, name: str, make: Callable[[], bytes], body: dict[str, Any], code: str
) -> None:
    env.bucket.put(f"bad/{name}", make())
    started = time.monotonic()
    error = env.error("preview", f"bad/{name}", **body)
    assert error["error_code"] == code, error
    assert time.monotonic() - started < 15
    assert error["message"] and "Traceback" not in error["message"]
    # Guessing the extractors of the same object never fails with a 500 either.
    guessed = env.post("guess_extractors", f"bad/{name}")
    assert guessed.status_code in (200, 400), guessed.text
    # The server is still up and right.
    env.bucket.put("bad/after.csv", make_csv())
    assert env.preview("bad/after.csv")["records"][0]["station"] == "Station 0"


def test_header_only_gives_fields_and_no_record(env: Env) -> None:
    env.bucket.put("edge/header.csv", b"id;name;value\n")
    body = env.preview("edge/header.csv")
    assert [f["name"] for f in body["fields"]] == ["id", "name", "value"]
    assert body["records"] == []


def test_empty_object_cannot_be_ranked(env: Env) -> None:
    env.bucket.put("edge/empty.json", b"")
    assert env.error("guess_extractors", "edge/empty.json")["error_code"] == "empty_file"
    assert (
        env.error("guess_extractor_params", "edge/empty.json", type="jsonfile")["error_code"] == "empty_file"
    )


def test_preview_of_a_dataset_applies_its_field_configuration(env: Env) -> None:
    """Adding a source to a dataset: the unsaved preview shows the fields as the publish will write them."""
    created = env.client.post(f"{API}/datasets/", json={"metadata": {"default": {"title": {"value": "F"}}}})
    dataset = created.json()["uid"]
    for config in (
        {
            "type": "rename",
            "label": "r",
            "from_name": "nom_usuel",
            "to_name": "station",
            "field_label": "Station",
        },
        {"type": "delete", "label": "d", "field": "qrr"},
    ):
        assert env.client.post(f"{API}/datasets/{dataset}/fields/", json=config).status_code == 201
    env.bucket.put("conf/mf.csv", (CORPUS / "meteofrance-semicolon-plain.csv").read_bytes())
    response = env.client.post(
        f"{API}/datasets/{dataset}/resources/preview/", json={"datasource": env.datasource("conf/mf.csv")}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    names = [f["name"] for f in body["fields"]]
    assert "station" in names and "nom_usuel" not in names and "qrr" not in names
    assert {f["name"]: f["label"] for f in body["fields"]}["station"] == "Station"
    assert body["records"][0]["station"] == "ALBA LA ROMAINE"
    # The module's dataset has no configuration: the same file keeps its own names there.
    assert "nom_usuel" in [f["name"] for f in env.preview("conf/mf.csv")["fields"]]


# -- the preview's cost does not grow with the object ---------------------------------------------
ROW_BYTES = 64


def _block(size: int) -> bytes:
    """``size`` bytes of fixed-width CSV rows (64 bytes each), so parts join on line boundaries."""
    rows = []
    for i in range(size // ROW_BYTES):
        day = f"2024-{i % 12 + 1:02d}-{i % 28 + 1:02d}"
        row = f"{i + 100_000_000},Station {i % 1000:04d},{i % 997 + 100}.{i % 89:02d},{day},"
        rows.append(row.ljust(ROW_BYTES - 1, "x") + "\n")
    return "".join(rows).encode()


def _upload_multipart(
    server: MotoServer, bucket: str, key: str, first: bytes, block: bytes, parts: int
) -> None:
    s3 = server.boto3_client()
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    done = []
    for number in range(1, parts + 1):
        body = first + block if number == 1 else block
        etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=body)["ETag"]
        done.append({"ETag": etag, "PartNumber": number})
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": done})


@pytest.mark.slow
def test_previews_of_16_mib_and_512_mib_fetch_the_same_bytes(env: Env) -> None:
    """The real 512 MiB object in moto (a 16 MiB block, 32 parts: ~10 s of upload), previewed through
    the API: the same bytes fetched from S3 as for 16 MiB, and well under 1 MiB."""
    block = _block(16 * MiB)
    header = b"id,station,amount,day,padding\n"
    server, bucket = env.bucket.server, env.bucket.name
    try:
        _upload_multipart(server, bucket, "size/small.csv", header, block, parts=1)
        _upload_multipart(server, bucket, "size/large.csv", header, block, parts=32)
        assert server.boto3_client().head_object(Bucket=bucket, Key="size/large.csv")["ContentLength"] == (
            len(header) + 512 * MiB
        )
        small, large = env.preview("size/small.csv"), env.preview("size/large.csv")
    finally:
        server.boto3_client().delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": "size/small.csv"}, {"Key": "size/large.csv"}]}
        )
    assert small["bytes_fetched"] == large["bytes_fetched"] < 1 * MiB
    assert small["bytes_read"] == large["bytes_read"]
    assert small["records"] == large["records"] and len(large["records"]) == 20
    assert large["records"][3] == {
        "id": 100_000_003,
        "station": "Station 0003",
        "amount": 103.03,
        "day": "2024-04-04",
        "padding": "x" * (ROW_BYTES - 1 - len("100000003,Station 0003,103.03,2024-04-04,")),
    }
    assert {f["name"]: f["type"] for f in large["fields"]} == {
        "id": "int",
        "station": "text",
        "amount": "double",
        "day": "date",
        "padding": "text",
    }
