"""A 256 MiB CSV published from the moto server by ``datawharf datasets publish --wait`` in a subprocess,
whose peak RSS must stay under 500 MB; the version is then checked with DuckDB."""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from boto3.s3.transfer import TransferConfig

from tests.integration.test_datasets_publish import API, create_connection, create_dataset
from tests.support.app import make_app_client, make_settings
from tests.support.moto import S3Bucket

MiB = 1024 * 1024
TARGET = 256 * MiB
PEAK_RSS_LIMIT = 500 * 1000 * 1000

# VmHWM, not getrusage: ru_maxrss survives execve on Linux, so a child forked from this (big) test
# process would report the test's own peak.
_MEASURE = """
import sys
sys.argv = ["datawharf", "datasets", "publish", sys.argv[1], "--wait"]
code = 0
try:
    from datawharf.cli import main
    main()
except SystemExit as exc:
    code = exc.code or 0
status = open("/proc/self/status").read()
print("PEAK_RSS_KB", status.split("VmHWM:")[1].split()[0], flush=True)
sys.exit(code)
"""


def make_block(seed: int) -> tuple[bytes, int]:
    rng = random.Random(seed)
    towns = ["Besançon", "Orléans", "Saint-Étienne", "Lyon", "Paris", "Nîmes", "Brest"]
    lines = []
    for i in range(16_000):
        lines.append(
            f"{seed * 100_000 + i};{rng.choice(towns)};{rng.randint(1000, 95999):05d};"
            f"{rng.randint(0, 900_000)};{rng.uniform(0, 1000):.3f};2024-{rng.randint(1, 12):02d}-"
            f'{rng.randint(1, 28):02d};"libellé, {rng.randint(0, 10**9)}"\n'
        )
    return "".join(lines).encode(), len(lines)


@pytest.mark.slow
def test_publish_256_mib_csv_under_500_mb_peak_rss(tmp_path: Path, s3_bucket: S3Bucket) -> None:
    blocks = [make_block(seed) for seed in range(8)]
    header = b"id;commune;code_postal;population;mesure;date;libelle\n"
    body = io.BytesIO()
    body.write(header)
    records = 0
    index = 0
    while body.tell() < TARGET:
        block, count = blocks[index % len(blocks)]
        body.write(block)
        records += count
        index += 1
    size = body.tell()
    body.seek(0)
    s3_bucket.server.boto3_client().upload_fileobj(
        body, s3_bucket.name, "big/mesures.csv", Config=TransferConfig(multipart_chunksize=64 * MiB)
    )
    del body

    home = tmp_path / "home"
    settings = make_settings(
        home, allowed_private_hosts=[s3_bucket.server.host_port], scheduler_interval=3600
    )
    with make_app_client(settings) as client:
        uid = create_dataset(
            client,
            "Mesures",
            s3_bucket.url("big/mesures.csv"),
            params={"separator": ";", "encoding": "utf-8", "headers_first_row": True},
            connection={"uid": create_connection(client, s3_bucket.server)},
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATAWHARF_")}
    env.update(
        {
            "DATAWHARF_HOME": str(home),
            "DATAWHARF_ALLOWED_PRIVATE_HOSTS": s3_bucket.server.host_port,
            "COLUMNS": "120",
        }
    )
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, uid], env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    peak_kb = int(result.stdout.rsplit("PEAK_RSS_KB", 1)[1].split()[0])
    print(f"published {size / MiB:.0f} MiB, {records} records; peak RSS {peak_kb / 1024:.0f} MiB")
    assert peak_kb * 1024 < PEAK_RSS_LIMIT
    assert f"records: {records}" in result.stdout

    version = next((home / "warehouse" / uid).iterdir())
    files = [str(p) for p in version.glob("*.parquet")]
    con = duckdb.connect()
    assert con.execute(f"SELECT count(*) FROM read_parquet({files!r})").fetchone() == (records,)
    types = dict(
        con.execute(
            f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet({files!r}))"
        ).fetchall()
    )
    assert types == {
        "id": "BIGINT",
        "commune": "VARCHAR",
        "code_postal": "VARCHAR",
        "population": "BIGINT",
        "mesure": "DOUBLE",
        "date": "DATE",
        "libelle": "VARCHAR",
    }
    first_block, _ = blocks[0]
    first_line = first_block.split(b"\n", 1)[0].decode().split(";")
    row = con.execute(
        f"SELECT * FROM read_parquet({files!r}) WHERE id = {int(first_line[0])} LIMIT 1"
    ).fetchone()
    assert row[1] == first_line[1]
    assert row[2] == first_line[2]
    assert str(row[5]) == first_line[5]
    assert API  # the dataset was made through the API
