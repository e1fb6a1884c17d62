"""``datawharf preview`` as a user runs it (a subprocess) against the moto server: a saved connection, the
tables it prints, given parameters typed from the command line, --json, and errors without a traceback."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from datawharf.connections import service
from datawharf.connections.schemas import ConnectionCreate
from datawharf.settings import Settings
from datawharf.store.db import open_database
from tests.support.moto import MotoServer, S3Bucket

CORPUS = Path("/work/shared/corpus")


def cli(home: Path, allowed: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "DATAWHARF_HOME": str(home),
        "DATAWHARF_ALLOWED_PRIVATE_HOSTS": allowed,
        "DATAWHARF_S3_MAX_ATTEMPTS": "1",
        "PATH": "/usr/bin:/bin",
        "COLUMNS": "400",
        **{name: os.environ[name] for name in ("PYTHONPATH",) if name in os.environ},  # this tree's code
    }
    return subprocess.run(
        [sys.executable, "-m", "datawharf", "preview", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def saved(tmp_path: Path, moto_server: MotoServer) -> tuple[Path, str]:
    """A home with a saved connection to the moto server: (home, connection uid)."""
    home = tmp_path / "home"
    settings = Settings(home=home, allowed_private_hosts=[moto_server.host_port])
    database = open_database(settings)
    try:
        with database.session() as session:
            created = service.create_connection(
                session,
                settings,
                ConnectionCreate.model_validate(
                    {
                        "type": "amazon_s3",
                        "title": "moto",
                        "url": moto_server.endpoint_url,
                        "auth": {
                            "type": "aws_signature_v4",
                            "access_key_id": "AKIAIOSFODNN7EXAMPLE",
                            "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                            "region": "us-east-1",
                        },
                    }
                ),
            )
            uid = created.uid
    finally:
        database.dispose()
    return home, uid


def test_preview_prints_records_fields_params_and_bytes(saved: tuple[Path, str], s3_bucket: S3Bucket) -> None:
    home, connection = saved
    data = (CORPUS / "velib-stations-semicolon-latlon-pair.csv").read_bytes()
    s3_bucket.put("velib.csv.gz", gzip.compress(data, mtime=0))
    result = cli(home, s3_bucket.server.host_port, "--connection", connection, s3_bucket.url("velib.csv.gz"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "20 records" in out
    # The records table: a header line per field (its name, then its type), the 20 records.
    names = [line.split(";")[1] for line in data.decode("utf-8").splitlines()[1:21]]
    assert all(name in out for name in names)
    assert names[20 - 1] in out and data.decode("utf-8").splitlines()[21].split(";")[1] not in out
    assert re.search(r"station_id\s+│\s+station_id\s+│\s+station_id\s+│\s+int", out)
    assert re.search(r"xy\s+│\s+xy\s+│\s+xy\s+│\s+geo_point_2d", out)
    assert re.search(r"separator\s+│\s+';'\s+│\s+guessed", out)
    assert re.search(r"encoding\s+│\s+'utf-8'\s+│\s+guessed", out)
    assert re.search(r"Parameters of csvfile", out)
    fetched = int(re.search(r"Bytes fetched from S3: ([\d,]+)", out).group(1).replace(",", ""))
    assert fetched == len(gzip.compress(data, mtime=0))  # a small object: fetched whole, once
    assert "Fields" in out


def test_given_params_are_typed_and_json_matches_the_api_body(
    saved: tuple[Path, str], s3_bucket: S3Bucket
) -> None:
    home, connection = saved
    s3_bucket.put("mf.csv", (CORPUS / "meteofrance-semicolon-plain.csv").read_bytes())
    allowed = s3_bucket.server.host_port
    result = cli(
        home, allowed, "--connection", connection, s3_bucket.url("mf.csv"), "--type", "csvfile",
        "--param", "first_row_no=2", "--param", "headers_first_row=false", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["type"] == "csvfile"
    assert body["params"]["first_row_no"] == 2 and body["params"]["headers_first_row"] is False
    assert body["params"]["separator"] == ";"  # still guessed
    assert [f["name"] for f in body["fields"]][:2] == ["column_1", "column_2"]
    assert body["records"][0]["column_1"] == "07005001"
    assert len(body["records"]) == 20 and body["bytes_fetched"] > 0
    shown = cli(
        home, allowed, "--connection", connection, s3_bucket.url("mf.csv"), "--param", "first_row_no=2"
    )
    assert re.search(r"first_row_no\s+│\s+2\s+│\s+given", shown.stdout), shown.stdout


def test_errors_are_one_line_with_their_code(saved: tuple[Path, str], s3_bucket: S3Bucket) -> None:
    home, connection = saved
    allowed = s3_bucket.server.host_port
    s3_bucket.put("empty.csv", b"")
    empty = cli(home, allowed, "--connection", connection, s3_bucket.url("empty.csv"))
    assert empty.returncode == 1
    assert "[empty_file]" in empty.stderr and "Traceback" not in empty.stderr
    bad = cli(
        home, allowed, "--connection", connection, s3_bucket.url("empty.csv"), "--param", "first_row_no=x"
    )
    assert bad.returncode == 1 and "[invalid_params]" in bad.stderr
    unknown = cli(home, allowed, "--connection", connection, s3_bucket.url("empty.csv"), "--param", "sep=;")
    assert unknown.returncode == 1 and "[invalid_params]" in unknown.stderr and "separator" in unknown.stderr
    missing = cli(home, allowed, "--connection", "co_nosuch", s3_bucket.url("empty.csv"))
    assert missing.returncode == 1 and "[connection_not_found]" in missing.stderr


def test_preview_of_a_glob_prints_what_matched_and_how_the_sample_differs(
    saved: tuple[Path, str], s3_bucket: S3Bucket
) -> None:
    home, connection = saved
    for day in (1, 2, 3):
        header = "station,count" if day != 3 else "station,count,note"
        s3_bucket.put(f"daily/2026/12/0{day}/stations.csv", f"{header}\ns{day},{day}\n".encode())
    s3_bucket.put("daily/2026/12/03/readme.txt", b"not matched")
    url = s3_bucket.url("daily/") + "**/stations.csv"
    result = cli(home, s3_bucket.server.host_port, "--connection", connection, url)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "daily/**/stations.csv: 3 objects matched in the first 4 keys listed under daily/" in out
    assert "records from 2, fields merged across 3" in out
    assert "2 records" in out
    assert re.search(r"daily/2026/12/03/stations\.csv\s+│\s+│\s+note", out)
    as_json = cli(home, s3_bucket.server.host_port, "--connection", connection, url, "--json")
    assert as_json.returncode == 0, as_json.stderr
    body = json.loads(as_json.stdout)
    assert [r["station"] for r in body["records"]] == ["s1", "s2"]  # the third has other fields
    assert body["objects"]["records_from"] == [f"daily/2026/12/0{day}/stations.csv" for day in (1, 2)]
