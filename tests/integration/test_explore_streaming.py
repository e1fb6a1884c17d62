"""A multi-million-row export streams with bounded memory: a real ``datawharf serve`` subprocess, a dataset
published for real, its version's Parquet file then replaced by 3 million generated rows (same schema),
and the server's peak RSS (VmHWM) read before and after exporting it all as csv and parquet."""

from __future__ import annotations

import io
from pathlib import Path

import httpx2
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from datawharf.datasets import catalog
from datawharf.settings import Settings
from datawharf.store.db import open_database
from tests.support.app import BOOTSTRAP_KEY
from tests.support.explore import EXPLORE, publish_csv
from tests.support.moto import MotoServer
from tests.support.processes import datawharf_serve

pytestmark = pytest.mark.slow

ROWS = 3_000_000
MiB = 1024 * 1024


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def generated_rows(count: int) -> pa.Table:
    ids = pa.array(range(count), pa.int64())
    names = pc.binary_join_element_wise(
        "record number ", pc.cast(ids, pa.string()), " of the generated streaming test data set", ""
    )
    values = pc.multiply(pc.cast(ids, pa.float64()), 0.25)
    return pa.table({"id": ids, "name": names, "value": values})


def test_export_of_millions_of_rows_keeps_memory_bounded(tmp_path: Path, moto_server: MotoServer) -> None:
    home = tmp_path / "home"
    env = {
        "DATAWHARF_BOOTSTRAP_API_KEY": BOOTSTRAP_KEY,
        "DATAWHARF_ALLOWED_PRIVATE_HOSTS": moto_server.host_port,
    }
    with (
        datawharf_serve(home, env) as (base_url, process),
        httpx2.Client(base_url=base_url, timeout=120) as client,
    ):
        bucket = moto_server.create_bucket()
        dataset = publish_csv(
            client, moto_server, bucket, "big.csv", b"id;name;value\n1;one;1.5\n2;two;2.5\n", "Big"
        )
        dataset_id = dataset["dataset_id"]
        database = open_database(Settings(home=home))
        try:
            with database.session() as session:
                published = catalog.get_published(session, dataset_id, Settings(home=home))
        finally:
            database.dispose()
        assert published is not None and [f.type for f in published.fields] == ["int", "text", "double"]
        [part] = published.files
        pq.write_table(generated_rows(ROWS), part, row_group_size=128 * 1024)

        records = client.get(f"{EXPLORE}/catalog/datasets/{dataset_id}/records", params={"limit": 1})
        assert records.json()["total_count"] == ROWS
        baseline = peak_rss(process.pid)

        url = f"{EXPLORE}/catalog/datasets/{dataset_id}/exports/csv"
        size = lines = 0
        last = b""
        with client.stream("GET", url, params={"with_bom": "false"}) as response:
            assert response.status_code == 200
            for chunk in response.iter_bytes():
                size += len(chunk)
                lines += chunk.count(b"\n")
                last = (last + chunk)[-200:]
        assert lines == ROWS + 1
        name = f"record number {ROWS - 1} of the generated streaming test data set"
        assert last.endswith(f'{ROWS - 1};"{name}";{(ROWS - 1) * 0.25}\n'.encode())
        csv_peak = peak_rss(process.pid)
        assert size > 200 * MiB
        # The whole export went through the server; its peak memory grew by a fraction of it.
        assert csv_peak - baseline < 150 * MiB, (baseline // MiB, csv_peak // MiB, size // MiB)

        parquet = io.BytesIO()
        with client.stream(
            "GET", url.replace("/csv", "/parquet"), params={"where": "id % 2 = 0"}
        ) as response:
            assert response.status_code == 200
            for chunk in response.iter_bytes():
                parquet.write(chunk)
        table = pq.read_table(parquet)
        assert table.num_rows == ROWS // 2
        assert pc.sum(table.column("id")).as_py() == sum(range(0, ROWS, 2))
        assert peak_rss(process.pid) - baseline < 150 * MiB
