"""Explore from any replica (issue 14, item 5): two ``datawharf serve`` processes, each with its own home
folder (two machines), on one PostgreSQL database, the warehouse on a bucket of the suite's moto S3
server. A dataset published through replica A is queried on both: records, a record by id, facets and
exports answer the same bytes, and neither home holds a Parquet file (every read goes to the bucket).
A republish through A is what B serves right after the switch. Each process spills to a DuckDB temp
folder of its own, removed when it stops.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.app import AUTH, BOOTSTRAP_KEY, SHARED_SECRET_KEY, fresh_postgres_database
from tests.support.explore import EXPLORE, csv_bytes, expected_record, make_rows, publish_csv, wait_idle
from tests.support.moto import MotoServer
from tests.support.processes import start_serve, stop, wait_until_answers

pytestmark = pytest.mark.postgres

API = "/api/automation/v1.0"


@dataclass
class Replicas:
    a: httpx.Client
    b: httpx.Client
    homes: list[Path]
    server: MotoServer
    source_bucket: str
    warehouse_bucket: str
    processes: list[object]


@pytest.fixture
def replicas(tmp_path: Path, moto_server: MotoServer) -> Iterator[Replicas]:
    warehouse_bucket = moto_server.create_bucket()
    with fresh_postgres_database() as url, ExitStack() as stack:
        env = {
            "DATAWHARF_DATABASE_URL": url,
            "DATAWHARF_SECRET_KEY": SHARED_SECRET_KEY,
            "DATAWHARF_BOOTSTRAP_API_KEY": BOOTSTRAP_KEY,
            "DATAWHARF_ALLOWED_PRIVATE_HOSTS": moto_server.host_port,
            "DATAWHARF_WAREHOUSE_URL": f"s3://{warehouse_bucket}/wh",
            "DATAWHARF_WAREHOUSE_ENDPOINT_URL": moto_server.endpoint_url,
            "DATAWHARF_WAREHOUSE_ACCESS_KEY_ID": "testing",
            "DATAWHARF_WAREHOUSE_SECRET_ACCESS_KEY": "testing",
            "DATAWHARF_SCHEDULER_INTERVAL": "3600",
        }
        homes = [tmp_path / "machine-a", tmp_path / "machine-b"]
        clients, processes = [], []
        for home in homes:  # one after the other: this test is about reading, not start-up races
            base_url, process = start_serve(home, env)
            stack.callback(stop, process)
            wait_until_answers(f"{base_url}/health", process, timeout=120)
            clients.append(stack.enter_context(httpx.Client(base_url=base_url, timeout=60)))
            processes.append(process)
        source_bucket = moto_server.create_bucket()
        yield Replicas(clients[0], clients[1], homes, moto_server, source_bucket, warehouse_bucket, processes)


def records(client: httpx.Client, dataset_id: str, **params: object) -> httpx.Response:
    response = client.get(f"{EXPLORE}/catalog/datasets/{dataset_id}/records", params=params)
    assert response.status_code == 200, response.text
    return response


def same(replicas: Replicas, on_a: httpx.Response, on_b: httpx.Response) -> bool:
    """The same body, but for each replica's own address in the links."""
    a_host, b_host = replicas.a.base_url.netloc, replicas.b.base_url.netloc
    return on_b.content.replace(b_host, a_host) == on_a.content


def test_every_replica_reads_the_version_on_s3(replicas: Replicas) -> None:
    rows = make_rows(40)
    dataset = publish_csv(
        replicas.a, replicas.server, replicas.source_bucket, "items.csv", csv_bytes(rows), "On S3"
    )
    dataset_id, uid = dataset["dataset_id"], dataset["uid"]
    warehouse_keys = replicas.server.boto3_client().list_objects_v2(
        Bucket=replicas.warehouse_bucket, Prefix=f"wh/{uid}/"
    )["Contents"]
    assert any(str(o["Key"]).endswith(".parquet") for o in warehouse_keys)

    asks = [
        {"limit": 20, "order_by": "id"},
        {"where": "population > 10000 and city = 'Paris'", "order_by": "id desc", "include_links": "true"},
        {"select": "city, count(*) as n, sum(population) as pop", "group_by": "city", "order_by": "city"},
    ]
    for params in asks:
        on_a, on_b = records(replicas.a, dataset_id, **params), records(replicas.b, dataset_id, **params)
        assert same(replicas, on_a, on_b)
    first = records(replicas.b, dataset_id, limit=20, order_by="id").json()
    assert first["total_count"] == len(rows)
    assert first["results"] == [expected_record(r) for r in rows[:20]]

    linked = records(replicas.a, dataset_id, limit=1, offset=5, include_links="true").json()["results"][0]
    path = f"{EXPLORE}/catalog/datasets/{dataset_id}/records/{linked['_id']}"
    one_a, one_b = replicas.a.get(path), replicas.b.get(path)
    assert one_a.status_code == one_b.status_code == 200 and same(replicas, one_a, one_b)

    facets = f"{EXPLORE}/catalog/datasets/{dataset_id}/facets"
    facet_a = replicas.a.get(facets, params={"facet": "city"})
    facet_b = replicas.b.get(facets, params={"facet": "city"})
    assert facet_a.status_code == 200 and same(replicas, facet_a, facet_b)
    for name in ("csv", "json", "parquet", "geojson"):
        export = f"{EXPLORE}/catalog/datasets/{dataset_id}/exports/{name}"
        got_a, got_b = replicas.a.get(export), replicas.b.get(export)
        assert got_a.status_code == got_b.status_code == 200, got_b.text
        assert same(replicas, got_a, got_b) and len(got_a.content) > 1000
    v1 = replicas.b.get("/api/records/1.0/search/", params={"dataset": dataset_id, "rows": 5, "sort": "id"})
    assert v1.status_code == 200 and v1.json()["nhits"] == len(rows)

    for home in replicas.homes:  # every read went to the bucket
        assert list(home.rglob("*.parquet")) == []
        spill = list((home / "duckdb-tmp").iterdir())
        assert len(spill) == 1 and spill[0].is_dir()

    # A republish through A (more rows): B serves the new version as soon as the switch is committed.
    more = make_rows(55)
    replicas.server.put_object(replicas.source_bucket, "items.csv", csv_bytes(more))
    response = replicas.a.post(f"{API}/datasets/{uid}/publish/", headers=AUTH)
    assert response.status_code == 200, response.text
    assert wait_idle(replicas.a, uid)["status"] == "idle"
    assert records(replicas.b, dataset_id, limit=1).json()["total_count"] == len(more)
    assert records(replicas.a, dataset_id, limit=1).json()["total_count"] == len(more)

    for process in replicas.processes:
        stop(process)  # type: ignore[arg-type]
    for home in replicas.homes:  # each process removed its own spill folder when it stopped
        assert list((home / "duckdb-tmp").iterdir()) == []
