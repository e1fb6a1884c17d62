"""Hostile callers of the facets and record-id routes (issue 15), over HTTP against a real
``datawharf serve``: a facet on a field of a million distinct values, a record lookup (a full scan of a
million rows), and facet requests past their caps. Figures go to test-artifacts/hostile/report.jsonl."""

from __future__ import annotations

import pytest

from tests.hostile.test_explore_limits import _publish_big
from tests.support.hostile import EXPLORE, HostileServer, attack, error_code
from tests.support.moto import MotoServer

ROWS = 1_000_000


@pytest.fixture(scope="module")
def big(hostile_server: HostileServer, moto_server: MotoServer) -> str:
    return _publish_big(hostile_server, moto_server, ROWS)


def test_a_facet_on_a_million_distinct_values_lists_only_its_limit(
    hostile_server: HostileServer, big: str
) -> None:
    with attack(hostile_server, "facet on 1M distinct text values", max_seconds=30) as record:
        with hostile_server.client(timeout=60) as client:
            response = client.get(f"{EXPLORE}/catalog/datasets/{big}/facets", params={"facet": "name"})
        record.notes["request"] = "GET facets?facet=name (1,000,000 distinct values)"
        record.notes["answer"] = (
            f"{response.status_code}, {len(response.json()['facets'][0]['facets'])} values"
        )
    assert response.status_code == 200, response.text[:300]
    values = response.json()["facets"][0]["facets"]
    assert len(values) == 100 and all(v["count"] == 1 for v in values)


def test_a_record_lookup_scans_a_million_rows_in_budget(hostile_server: HostileServer, big: str) -> None:
    with hostile_server.client(timeout=60) as client:
        page = client.get(
            f"{EXPLORE}/catalog/datasets/{big}/records", params={"include_links": "true", "offset": 9000}
        )
        record_id = page.json()["results"][0]["_id"]
        with attack(hostile_server, "record lookup by id over 1M rows", max_seconds=30) as record:
            found = client.get(f"{EXPLORE}/catalog/datasets/{big}/records/{record_id}")
            record.notes["request"] = "GET records/{id} (1,000,000 rows)"
            record.notes["answer"] = str(found.status_code)
    assert found.status_code == 200, found.text[:300]
    assert found.json()["id"] == page.json()["results"][0]["id"]


@pytest.mark.parametrize(
    "params",
    [
        {"facet": ["name"] * 21},
        {"facet": 'facet(name="name", limit=1000000)'},
        {"facet": "facet(" + "name=1, " * 5000 + ")"},
    ],
)
def test_facet_requests_past_their_caps_are_refused(
    hostile_server: HostileServer, big: str, params: dict
) -> None:
    with attack(hostile_server, f"facet past its caps ({str(params)[:40]})", max_seconds=10) as record:
        with hostile_server.client(timeout=30) as client:
            response = client.get(f"{EXPLORE}/catalog/datasets/{big}/facets", params=params)
        record.notes["request"] = f"GET facets {str(params)[:60]}"
        record.notes["answer"] = f"{response.status_code} {error_code(response)}"
    assert (response.status_code, error_code(response)) == (400, "invalid_facet")
