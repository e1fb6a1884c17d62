"""Hostile callers of the Explore API (issue 12, items 1 and 6), replayed over HTTP against a real
``datawharf serve``: full-text amplification, long and nested expressions, a query that wants a lot of
memory, and slow readers of exports.

Each attack runs inside ``attack(...)``: the server survives, answers /health, stays within the time
bound and under the peak-RSS budget (1 GiB with default settings), and the figures go to
``test-artifacts/hostile/report.jsonl``.
"""

from __future__ import annotations

import csv
import io
import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from datawharf.datasets import catalog
from datawharf.settings import Settings
from datawharf.store.db import open_database
from tests.hostile.conftest import serve_hostile
from tests.support.explore import publish_csv
from tests.support.hostile import EXPLORE, HostileServer, attack, error_code
from tests.support.moto import MotoServer

BIG_ROWS = 2_000_000
SEND_TIMEOUT = 3
HEAVY_GROWTH_MIB = 250  # what a memory-hungry query may add to the server's peak: 128 MB of DuckDB and more


def _publish(server: HostileServer, moto: MotoServer, body: bytes, title: str) -> str:
    with server.client(timeout=120) as client:
        return publish_csv(client, moto, moto.create_bucket(), f"{title}.csv", body, title)["dataset_id"]


def _replace_data(server: HostileServer, dataset_id: str, table: pa.Table) -> None:
    """Swap the published version's Parquet file for ``table`` (same schema): millions of rows without
    publishing them through S3."""
    settings = Settings(home=server.home)
    database = open_database(settings)
    try:
        with database.session() as session:
            published = catalog.get_published(session, dataset_id, settings)
    finally:
        database.dispose()
    assert published is not None
    [part] = published.files
    pq.write_table(table, part, row_group_size=128 * 1024)


def _big_table(rows: int) -> pa.Table:
    ids = pa.array(range(rows), pa.int64())
    names = pc.binary_join_element_wise("generated record ", pc.cast(ids, pa.string()), " of the big set", "")
    return pa.table({"id": ids, "name": names, "value": pc.multiply(pc.cast(ids, pa.float64()), 0.5)})


def _publish_big(server: HostileServer, moto: MotoServer, rows: int = BIG_ROWS) -> str:
    dataset_id = _publish(server, moto, b"id;name;value\n1;one;1.5\n2;two;2.5\n", "big")
    _replace_data(server, dataset_id, _big_table(rows))
    return dataset_id


@pytest.fixture(scope="module")
def small(hostile_server: HostileServer, moto_server: MotoServer) -> str:
    rows = "".join(f"{i};name {i};{i * 1.5}\n" for i in range(1, 51))
    return _publish(hostile_server, moto_server, ("id;name;value\n" + rows).encode(), "small")


def _refused(response: httpx.Response, code: str) -> dict[str, Any]:
    assert response.status_code == 400, response.text[:500]
    body = response.json()
    assert body["error_code"] == code, body
    return body


# -- item 1: full-text amplification ------------------------------------------------------------------
def test_a_20000_word_catalog_search_is_refused_before_duckdb(hostile_server: HostileServer) -> None:
    where = '"' + " ".join(["a"] * 20_000) + '"'  # 40 kB; it grew the process to 6.3 GiB before
    with (
        attack(hostile_server, "catalog where of 20,000 words", max_seconds=3.0) as record,
        hostile_server.client(admin=False) as client,
    ):
        response = client.get(f"{EXPLORE}/catalog/datasets", params={"where": where})
        record.notes.update(status=response.status_code, code=error_code(response), where_bytes=len(where))
    body = _refused(response, "query_too_complex")
    assert "search fewer words" in body["message"]
    assert body["detail"]["clause"] == "where" and body["detail"]["part"] == "search"
    assert body["detail"]["cost"] > body["detail"]["limit"]
    assert record.peak_mib - record.rss_before_mib < 64, "the refusal itself must stay small"
    with hostile_server.client(admin=False) as client:  # the catalog still searches
        ok = client.get(f"{EXPLORE}/catalog/datasets", params={"where": '"a a a"'})
    assert ok.status_code == 200


@pytest.fixture(scope="module")
def wide(hostile_server: HostileServer, moto_server: MotoServer) -> str:
    """A dataset of 1,000 text columns: one bare word is 1,000 matches."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow([f"col{i}" for i in range(1000)])
    for row in range(5):
        writer.writerow([f"word{row} text{i}" for i in range(1000)])
    return _publish(hostile_server, moto_server, out.getvalue().encode(), "wide")


def test_a_3kb_search_over_1000_text_columns_is_refused(hostile_server: HostileServer, wide: str) -> None:
    where = '"' + " ".join(f"w{i}" for i in range(750)) + '"'  # 3 kB of words: 750,000 matches
    assert len(where) > 3000
    url = f"{EXPLORE}/catalog/datasets/{wide}/records"
    with (
        attack(hostile_server, "3 kB search over 1,000 text columns", max_seconds=3.0) as record,
        hostile_server.client(admin=False) as client,
    ):
        response = client.get(url, params={"where": where})
        record.notes.update(status=response.status_code, code=error_code(response))
    _refused(response, "query_too_complex")
    assert record.peak_mib - record.rss_before_mib < 64
    with (
        attack(
            hostile_server, "1-word search and select * over 1,000 text columns", max_seconds=10.0
        ) as record,
        hostile_server.client(admin=False) as client,
    ):
        found = client.get(url, params={"where": '"word3"', "limit": 5})
        record.notes.update(status=found.status_code)
    assert found.status_code == 200, found.text[:300]
    assert found.json()["total_count"] == 1
    assert found.json()["results"][0]["col999"] == "word3 text999"


# -- item 1: long and nested expressions, many clauses --------------------------------------------------
NESTED: list[tuple[str, dict[str, Any], str]] = [
    ("10,000 parentheses", {"where": "(" * 10_000 + "id = 1" + ")" * 10_000}, "odsql_too_deep"),
    ("or-chain of 4,000 comparisons", {"where": " or ".join(["id = 1"] * 4_000)}, "query_too_complex"),
    (
        "in list of 15,000 repeated values",
        {"where": "id in (" + ",".join(["1"] * 15_000) + ")"},
        "query_too_complex",
    ),
    ("or-chain of 4,000 bare words", {"where": " or ".join(["x"] * 4_000)}, "query_too_complex"),
    (
        "select of 1,200 deep expressions",
        {"select": ",".join("-" * 30 + f"id as c{i}" for i in range(1_200))},
        "query_too_complex",
    ),
    ("4,000 where clauses", {"where": ["id = 1"] * 4_000}, "query_too_complex"),
    ("order_by of 5,000 expressions", {"order_by": ",".join(["id + 1"] * 5_000)}, "query_too_complex"),
]


@pytest.mark.parametrize(("name", "params", "code"), NESTED, ids=[n for n, _p, _c in NESTED])
def test_long_and_nested_expressions_are_refused(
    hostile_server: HostileServer, small: str, name: str, params: dict[str, Any], code: str
) -> None:
    url = f"{EXPLORE}/catalog/datasets/{small}/records"
    with (
        attack(hostile_server, name, max_seconds=5.0) as record,  # parsing 60 kB: ~1 s on an idle machine
        hostile_server.client(admin=False) as client,
    ):
        response = client.get(url, params=params)
        record.notes.update(status=response.status_code, code=error_code(response))
    body = _refused(response, code)
    assert body["message"] and "detail" in body
    assert record.peak_mib - record.rss_before_mib < 64


LONG_LITERALS = [
    ("like pattern of 24,000 characters", {"where": "name like '" + "%a" * 12_000 + "'"}),
    ("search of one 60,000-character word", {"where": "search(name, '" + "x" * 60_000 + "')"}),
]


@pytest.mark.parametrize(("name", "params"), LONG_LITERALS, ids=[n for n, _p in LONG_LITERALS])
def test_a_long_literal_under_the_budget_runs(
    hostile_server: HostileServer, small: str, name: str, params: dict[str, Any]
) -> None:
    """A quoted string is a parameter: it costs DuckDB no planning, and the budget charges it 1 per 10
    characters, so all the URL can carry (64 KiB) passes, and answers at once."""
    with (
        attack(hostile_server, name, max_seconds=5.0) as record,
        hostile_server.client(admin=False) as client,
    ):
        response = client.get(f"{EXPLORE}/catalog/datasets/{small}/records", params=params)
        record.notes.update(status=response.status_code)
    assert response.status_code == 200, response.text[:300]
    assert response.json()["total_count"] == 0


def test_a_group_by_of_2400_expressions_is_compiled_in_linear_time(
    hostile_server: HostileServer, small: str
) -> None:
    """Within the budget, yet each selected group was looked up in a list of every group (quadratic):
    2,400 of them took the compiler about 10 s of CPU."""
    group_by = ", ".join(f"id + {i} as g{i}" for i in range(2_400))
    with (
        attack(hostile_server, "group_by of 2,400 expressions", max_seconds=5.0) as record,
        hostile_server.client(admin=False) as client,
    ):
        response = client.get(f"{EXPLORE}/catalog/datasets/{small}/records", params={"group_by": group_by})
        record.notes.update(status=response.status_code, code=error_code(response))
    # DuckDB's hash table of 2,400 keys a row does not fit one connection's 128 MB: a clean refusal
    assert (response.status_code, error_code(response)) in ((200, None), (400, "query_out_of_memory"))


# -- item 1: a query that wants a lot of memory ----------------------------------------------------------
@pytest.fixture(scope="module")
def big(hostile_server: HostileServer, moto_server: MotoServer) -> str:
    return _publish_big(hostile_server, moto_server)


HEAVY = [
    (
        "group by 2M distinct names",
        {"group_by": "name", "select": "name, count(*) as n", "order_by": "n desc"},
    ),
    ("count distinct of 2M names by value", {"select": "count(distinct name) as n, sum(value) as s"}),
    ("order by 2M names, last page", {"order_by": "name desc", "offset": 9_990, "limit": 10}),
]


@pytest.mark.parametrize(("name", "params"), HEAVY, ids=[n for n, _p in HEAVY])
def test_a_memory_hungry_query_stays_within_the_memory_limit(
    hostile_server: HostileServer, big: str, name: str, params: dict[str, Any]
) -> None:
    with (
        attack(hostile_server, name, max_seconds=60.0) as record,
        hostile_server.client(admin=False, timeout=90) as client,
    ):
        response = client.get(f"{EXPLORE}/catalog/datasets/{big}/records", params=params)
        record.notes.update(status=response.status_code, code=error_code(response))
    assert response.status_code in (200, 400), response.text[:300]
    if response.status_code == 400:  # DuckDB could not spill it: refused cleanly
        assert response.json()["error_code"] == "query_out_of_memory", response.text[:300]
    else:
        assert response.json()["total_count"] >= 1
    # Unbounded, DuckDB takes 250-460 MiB for these; its limit (128 MB a connection) holds it below.
    assert record.peak_mib - record.rss_before_mib < HEAVY_GROWTH_MIB


def test_a_sorted_export_of_2m_rows_spills_instead_of_growing(
    hostile_server: HostileServer, big: str
) -> None:
    url = f"{EXPLORE}/catalog/datasets/{big}/exports/csv"
    with (
        attack(hostile_server, "csv export of 2M rows sorted by name", max_seconds=90.0) as record,
        hostile_server.client(admin=False, timeout=90) as client,
        client.stream("GET", url, params={"order_by": "name desc", "select": "id, name"}) as response,
    ):
        lines = (
            sum(chunk.count(b"\n") for chunk in response.iter_bytes()) if response.status_code == 200 else 0
        )
        record.notes.update(status=response.status_code, lines=lines)
    assert response.status_code == 200
    assert lines == BIG_ROWS + 1
    assert record.peak_mib - record.rss_before_mib < HEAVY_GROWTH_MIB


# -- item 6: slow readers of exports -----------------------------------------------------------------------
def _stalled_export(base_url: str, path: str) -> socket.socket:
    """A client that asks for an export, reads 1 KiB and then stops reading, with a tiny receive buffer."""
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect((host, int(port)))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    return sock


def _first_kib(sock: socket.socket) -> bytes:
    """The response's head and its first bytes (up to 1 KiB), or all of a short (Content-Length) body."""
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 1024:
        chunk = sock.recv(1024 - len(data))
        if not chunk:
            return data
        data += chunk
    head, _sep, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"content-length: *(\d+)", head, re.IGNORECASE)
    while length and len(body) < int(length[1]):
        body += sock.recv(int(length[1]) - len(body))
    return data if not length else head + b"\r\n\r\n" + body


def _drain(sock: socket.socket, deadline: float) -> tuple[int, bool]:
    """Read what the server still sends; (bytes, whether the server ended the connection by the deadline)."""
    sock.settimeout(1)
    total = 0
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(1 << 16)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return total, True
        if not chunk:
            return total, True
        total += len(chunk)
    return total, False


@pytest.fixture(scope="module")
def slow_reader_server(
    tmp_path_factory: pytest.TempPathFactory, moto_server: MotoServer
) -> Iterator[tuple[HostileServer, str]]:
    """A server whose client address may stream 4 exports (as many as the original attack's sockets)
    and whose send timeout is short, with a dataset of 1M rows (a csv export of ~45 MB)."""
    env = {
        "DATAWHARF_SEND_TIMEOUT": "3",
        "DATAWHARF_EXPORT_PER_CLIENT": "4",
        "DATAWHARF_EXPORT_POOL_SIZE": "4",
    }
    with serve_hostile(tmp_path_factory.mktemp("slow") / "home", moto_server, env) as server:
        dataset_id = _publish_big(server, moto_server, rows=1_000_000)
        with server.client(admin=False) as client:  # warm: the attack measures stalling, not a cold start
            assert client.get(f"{EXPLORE}/catalog/datasets/{dataset_id}/records").status_code == 200
        yield server, dataset_id


def test_twenty_stalled_export_readers_do_not_stop_queries(
    slow_reader_server: tuple[HostileServer, str],
) -> None:
    server, dataset_id = slow_reader_server
    export = f"{EXPLORE}/catalog/datasets/{dataset_id}/exports/csv"
    records = f"{EXPLORE}/catalog/datasets/{dataset_id}/records"
    sockets: list[socket.socket] = []
    try:
        with attack(
            server, "20 stalled export readers, then records and catalog", max_seconds=30.0
        ) as record:
            sockets = [_stalled_export(server.base_url, export) for _ in range(20)]
            heads = [_first_kib(sock) for sock in sockets]
            statuses = [int(head.split(b" ", 2)[1]) for head in heads]
            assert statuses.count(200) == 4, statuses
            assert statuses.count(429) == 16, statuses
            assert all(b"too_many_exports" in h for h, s in zip(heads, statuses, strict=True) if s == 429)
            with server.client(admin=False) as client:
                timings = []
                for path, params in (
                    (records, {"limit": 5}),
                    (f"{EXPLORE}/catalog/datasets", {}),
                    (records, {"where": "id < 10"}),
                ):
                    started = time.monotonic()
                    response = client.get(path, params=params)
                    timings.append(round(time.monotonic() - started, 3))
                    assert response.status_code == 200, response.text[:300]
            record.notes.update(statuses={"200": 4, "429": 16}, query_seconds=timings)
            assert max(timings) < 1.0, timings
            # The 4 stalled streams are ended after the send timeout (3 s): their sockets close.
            streaming = [s for s, status in zip(sockets, statuses, strict=True) if status == 200]
            time.sleep(SEND_TIMEOUT + 3)  # still not reading: the server gives up on them meanwhile
            ended = [_drain(sock, time.monotonic() + 15) for sock in streaming]
            record.notes.update(drained_bytes=[b for b, _e in ended])
            assert all(closed for _b, closed in ended), ended
            # cut, not finished (45 MB), and dropped by the kernel (TCP_USER_TIMEOUT), not left to flush
            # the megabytes buffered for them once read
            assert all(b < 1024 * 1024 for b, _e in ended), ended
        with server.client(admin=False) as client:  # their slots and connections were given back
            response = client.get(export, params={"where": "id < 1000", "select": "id"})
        assert response.status_code == 200
        assert response.text.count("\n") == 1001
    finally:
        for sock in sockets:
            sock.close()
