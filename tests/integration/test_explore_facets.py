"""Explore API v2.1 facets, of a dataset (`catalog/datasets/{id}/facets`) and of the catalog
(`catalog/facets`), over datasets published for real; the counts expected are computed from the source
rows and the datasets' keywords."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from tests.support.explore import EXPLORE, ROWS, csv_bytes, explore_client, publish_csv
from tests.support.moto import MotoServer

FACET = [{"field_name": "city"}, {"field_name": "founded", "facetsort": "alphanum"}]


@dataclass(frozen=True)
class Portal:
    client: TestClient
    dataset_id: str
    other_id: str

    def facets(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.client.get(f"{EXPLORE}/{path}", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def dataset(self, **params: Any) -> dict[str, Any]:
        return self.facets(f"catalog/datasets/{self.dataset_id}/facets", **params)


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory, moto_server: MotoServer) -> Iterator[Portal]:
    with explore_client(tmp_path_factory.mktemp("explore-facets"), moto_server) as client:
        bucket = moto_server.create_bucket()
        items = publish_csv(
            client, moto_server, bucket, "items.csv", csv_bytes(ROWS), "Items",
            keywords=("bike", "city"), metadata={"asset_content_configuration": {"facets": {"value": FACET}}},
        )  # fmt: skip
        other = publish_csv(
            client, moto_server, bucket, "few.csv", csv_bytes(ROWS[:3]), "Few", keywords=("bus", "city")
        )
        yield Portal(client, items["dataset_id"], other["dataset_id"])


def by_name(body: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {f["name"]: f["facets"] for f in body["facets"]}


def counted(values: list[str]) -> list[dict[str, Any]]:
    """The facet values the reference lists for ``values``: most frequent first, then by value."""
    counts = sorted(Counter(values).items(), key=lambda kv: (-kv[1], kv[0]))
    return [{"name": v, "value": v, "count": c, "state": "displayed"} for v, c in counts]


def test_the_configured_facets_are_listed_with_their_counts(portal: Portal) -> None:
    body = portal.dataset()
    assert body["links"] == []
    facets = by_name(body)
    assert list(facets) == ["city", "founded"]
    assert facets["city"] == counted([r.city for r in ROWS])
    years = Counter(str(r.founded.year) for r in ROWS)
    assert facets["founded"] == [
        {"name": y, "value": y, "count": years[y], "state": "displayed"} for y in sorted(years)
    ]


def test_the_dataset_shows_its_facet_annotations_as_the_reference_does(portal: Portal) -> None:
    dataset = portal.client.get(f"{EXPLORE}/catalog/datasets/{portal.dataset_id}").json()
    annotations = {f["name"]: f["annotations"] for f in dataset["fields"]}
    assert annotations["city"] == {"facet": []}
    assert annotations["founded"] == {"facet": [], "facetsort": ["alphanum"]}
    assert annotations["name"] == {}


def test_facet_parameter_where_and_refine(portal: Portal) -> None:
    body = portal.dataset(facet="name", where="population > 20000", refine="city:Paris")
    kept = [r for r in ROWS if r.city == "Paris" and r.population is not None and r.population > 20000]
    assert kept
    assert by_name(body) == {"name": counted([r.name for r in kept])}


def test_a_refined_value_is_refined_and_an_excluded_one_listed_without_count(portal: Portal) -> None:
    refined = by_name(portal.dataset(facet="city", refine="city:Lyon"))["city"]
    assert refined == [
        {"name": "Lyon", "value": "Lyon", "count": sum(r.city == "Lyon" for r in ROWS), "state": "refined"}
    ]
    excluded = by_name(portal.dataset(facet="city", exclude="city:Lyon"))["city"]
    assert excluded == [
        *counted([r.city for r in ROWS if r.city != "Lyon"]),
        {"name": "Lyon", "value": "Lyon", "state": "excluded"},
    ]


def test_a_disjunctive_facet_keeps_every_value_under_its_own_refine(portal: Portal) -> None:
    facet = 'facet(name="city", disjunctive=true)'
    values = by_name(portal.dataset(facet=facet, refine="city:Lyon"))["city"]
    assert {v["value"] for v in values} == {r.city for r in ROWS}
    assert [v["value"] for v in values if v["state"] == "refined"] == ["Lyon"]


def test_facet_function_sort_and_limit(portal: Portal) -> None:
    values = by_name(portal.dataset(facet='facet(name="city", sort="alphanum", limit=2)'))["city"]
    assert [v["value"] for v in values] == sorted({r.city for r in ROWS})[:2]
    numbers = by_name(portal.dataset(facet="facet(name='id', sort='-num', limit=3)"))["id"]
    assert [v["value"] for v in numbers] == ["30", "29", "28"]
    # nulls are no facet value: population 7 is missing
    populations = by_name(portal.dataset(facet='facet(name="population", limit=1000)'))["population"]
    assert len(populations) == sum(r.population is not None for r in ROWS)


def test_a_refined_year_lists_its_months_under_it_in_the_timezone(portal: Portal) -> None:
    year = ROWS[0].founded.year
    founded = by_name(portal.dataset(facet="founded", refine=f"founded:{year}"))["founded"]
    months = Counter(f"{r.founded.year}/{r.founded.month:02d}" for r in ROWS if r.founded.year == year)
    assert founded == [
        {
            "name": str(year),
            "value": str(year),
            "count": sum(months.values()),
            "state": "refined",
            "facets": [
                {"name": m, "value": m, "count": months[m], "state": "displayed"} for m in sorted(months)
            ],
        }
    ]
    # datetimes are faceted in the request's timezone: 23:30 UTC on 2 April is 3 April in Paris
    for zone in ("UTC", "Europe/Paris"):
        body = portal.dataset(facet="updated", refine="updated:2024/04", timezone=zone)
        days = by_name(body)["updated"][0]["facets"][0]["facets"]
        local = Counter(r.updated.astimezone(ZoneInfo(zone)).strftime("%Y/%m/%d") for r in ROWS)
        assert [(d["value"], d["count"]) for d in days] == sorted(local.items())


@pytest.mark.parametrize(
    ("facet", "fragment"),
    [
        ("nope", "no field 'nope'"),
        ("location", "geo_point_2d field"),
        ('facet(name="city", sort="size")', "sort must be one of"),
        ('facet(name="city", limit=0)', "limit must be an integer from 1 to 1000"),
        ('facet(name="city", hierarchical=true, separator="/")', "hierarchical"),
        ('facet(name="city", colour="red")', "unknown facet() argument(s) colour"),
        ("facet(sort='count')", 'needs name="<field>"'),
        ('facet(name="city"', "no field 'facet(name=\"city\"'"),
        ("``", "facet must name a field"),
    ],
)
def test_bad_facets_are_invalid_facet(portal: Portal, facet: str, fragment: str) -> None:
    response = portal.client.get(
        f"{EXPLORE}/catalog/datasets/{portal.dataset_id}/facets", params={"facet": facet}
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error_code"] == "invalid_facet"
    assert fragment in body["message"]


def test_bad_odsql_in_facets_is_the_compilers_error(portal: Portal) -> None:
    response = portal.client.get(
        f"{EXPLORE}/catalog/datasets/{portal.dataset_id}/facets", params={"where": "nope = 1"}
    )
    assert (response.status_code, response.json()["error_code"]) == (400, "unknown_field")


# -- the catalog ------------------------------------------------------------------------------------------
def test_catalog_facets_count_each_keyword_of_multivalued_metadata(portal: Portal) -> None:
    facets = by_name(portal.facets("catalog/facets"))
    assert list(facets) == ["features", "modified", "publisher", "keyword", "theme", "language"]
    assert facets["keyword"] == counted(["bike", "city", "bus", "city"])
    assert facets["features"] == counted(["analyze", "geo", "timeserie"] * 2)
    assert facets["theme"] == []


def test_catalog_facets_and_datasets_refine_on_one_keyword(portal: Portal) -> None:
    refined = by_name(portal.facets("catalog/facets", facet="keyword", refine="keyword:bike"))
    assert refined["keyword"] == [
        {"name": "bike", "value": "bike", "count": 1, "state": "refined"},
        {"name": "city", "value": "city", "count": 1, "state": "displayed"},
    ]
    found = portal.client.get(f"{EXPLORE}/catalog/datasets", params={"refine": "keyword:bike"}).json()
    assert [d["dataset_id"] for d in found["results"]] == [portal.dataset_id]
    assert found["total_count"] == 1
    kept = portal.client.get(f"{EXPLORE}/catalog/datasets", params={"exclude": "keyword:bike"}).json()
    assert [d["dataset_id"] for d in kept["results"]] == [portal.other_id]
    both = portal.client.get(f"{EXPLORE}/catalog/datasets", params={"refine": "keyword:city"}).json()
    assert both["total_count"] == 2


def test_catalog_facets_where_and_an_unknown_facet(portal: Portal) -> None:
    few = by_name(portal.facets("catalog/facets", facet="keyword", where="records_count < 10"))
    assert few["keyword"] == counted(["bus", "city"])
    response = portal.client.get(f"{EXPLORE}/catalog/facets", params={"facet": "colour"})
    assert (response.status_code, response.json()["error_code"]) == (400, "invalid_facet")


# -- catalog select, group_by, include_links ---------------------------------------------------------------
def catalog(portal: Portal, **params: Any) -> dict[str, Any]:
    return portal.facets("catalog/datasets", order_by="dataset_id", **params)


def test_catalog_select_picks_what_each_dataset_holds(portal: Portal) -> None:
    full = {d["dataset_id"]: d for d in catalog(portal)["results"]}
    ids = sorted(full)
    body = catalog(portal, select="dataset_id, title, keyword, records_count * 2 as twice")
    assert body["total_count"] == 2
    keywords = {portal.dataset_id: ["bike", "city"], portal.other_id: ["bus", "city"]}
    assert body["results"] == [
        {
            "dataset_id": i,
            "title": full[i]["metas"]["default"]["title"],
            "keyword": keywords[i],
            "twice": full[i]["metas"]["default"]["records_count"] * 2,
        }
        for i in ids
    ]
    fields = catalog(portal, select="dataset_id, fields", where="records_count > 10")["results"]
    assert fields == [{"dataset_id": portal.dataset_id, "fields": full[portal.dataset_id]["fields"]}]
    assert catalog(portal, select="*")["results"] == [full[i] for i in ids]


def test_catalog_group_by_aggregates_the_datasets(portal: Portal) -> None:
    response = portal.client.get(
        f"{EXPLORE}/catalog/datasets",
        params={
            "select": "visibility, count(*) as n, sum(records_count) as records",
            "group_by": "visibility",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "total_count": 1,
        "results": [{"visibility": "domain", "n": 2, "records": len(ROWS) + 3}],
    }


def test_catalog_select_errors_are_the_compilers(portal: Portal) -> None:
    response = portal.client.get(f"{EXPLORE}/catalog/datasets", params={"select": "nope"})
    assert (response.status_code, response.json()["error_code"]) == (400, "unknown_field")


def test_catalog_and_dataset_links_when_asked(portal: Portal) -> None:
    base = f"http://testserver{EXPLORE}/catalog/datasets"
    body = catalog(portal, include_links="true", limit=1)
    assert {link["rel"] for link in body["_links"]} == {"self", "first", "next", "last"}
    assert body["results"][0]["_links"] == [
        {"href": f"{base}/{body['results'][0]['dataset_id']}", "rel": "self"},
        {"href": base, "rel": "catalog"},
    ]
    assert "_links" not in catalog(portal)
    one = portal.facets(
        f"catalog/datasets/{portal.dataset_id}", include_links="true", include_app_metas="true"
    )
    assert one["_links"][0] == {"href": f"{base}/{portal.dataset_id}", "rel": "self"}
