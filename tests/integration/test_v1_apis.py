"""The v1 APIs (Dataset API 1.0, Records API 1.0, the portal export URL) over datasets published for real:
their bodies in v1's shape, their parameters translated onto ODSQL, the same record ids and access rules
as Explore v2.1; every expectation computed from the source rows (``tests.support.explore.ROWS``)."""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from tests.support.app import AUTH
from tests.support.explore import EXPLORE, ROWS, TYPES, Row, csv_bytes, explore_client, publish_csv
from tests.support.moto import MotoServer

DATASETS = "/api/datasets/1.0"
RECORDS = "/api/records/1.0"
FACETS = {"asset_content_configuration": {"facets": {"value": [{"field_name": "city"}]}}}


@dataclass(frozen=True)
class Portal:
    client: TestClient
    items: str  # 30 rows, public
    few: str  # 3 rows, public
    secret: str  # 4 rows, restricted
    reader_key: str  # explore_restricted_dataset

    def get(self, path: str, params: Any = None, key: str | None = None) -> Any:
        headers = {"Authorization": f"apikey {key}"} if key else {}
        response = self.client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    def records(self, **params: Any) -> dict[str, Any]:
        return self.get(f"{RECORDS}/search/", {"dataset": self.items, **params})


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory, moto_server: MotoServer) -> Iterator[Portal]:
    with explore_client(tmp_path_factory.mktemp("explore-v1"), moto_server) as client:
        bucket = moto_server.create_bucket()
        items = publish_csv(
            client, moto_server, bucket, "items.csv", csv_bytes(ROWS), "Items of Paris",
            keywords=("bike", "city"), metadata=FACETS,
        )  # fmt: skip
        few = publish_csv(
            client, moto_server, bucket, "few.csv", csv_bytes(ROWS[:3]), "Few", keywords=("bus",),
            metadata={"inspire": {"contact_email": {"value": "gis@example.org"}}},
        )  # fmt: skip
        secret = publish_csv(
            client, moto_server, bucket, "s.csv", csv_bytes(ROWS[:4]), "Budget", restricted=True
        )
        created = client.post(
            "/api/automation/v1.0/apikeys/",
            headers=AUTH,
            json={"label": "reader", "permissions": ["explore_restricted_dataset"]},
        )
        assert created.status_code == 201, created.text
        yield Portal(
            client, items["dataset_id"], few["dataset_id"], secret["dataset_id"], created.json()["key"]
        )


def v1_fields(row: Row) -> dict[str, Any]:
    """The ``fields`` v1 gives ``row``: no empty values, geo points as [lat, lon]."""
    lon, lat = row.location
    values = {
        "id": row.id,
        "name": row.name,
        "city": row.city,
        "population": row.population,
        "surface_km2": row.surface_km2,
        "founded": row.founded.isoformat(),
        "updated": row.updated.isoformat(),
        "location": [lat, lon],
        "area": row.area,
    }
    return {name: value for name, value in values.items() if value is not None}


def ids(body: dict[str, Any]) -> list[int]:
    return [r["fields"]["id"] for r in body["records"]]


# -- records/1.0/search ----------------------------------------------------------------------------------
def test_records_search_answers_in_the_v1_shape(portal: Portal) -> None:
    body = portal.records(rows=5, sort="-id")
    assert body["nhits"] == len(ROWS)
    assert body["parameters"] == {
        "dataset": [portal.items], "timezone": "UTC", "rows": 5, "start": 0, "sort": ["-id"],
        "format": "json",
    }  # fmt: skip
    assert "facet_groups" not in body
    first = body["records"][0]
    assert list(first) == ["datasetid", "recordid", "fields", "geometry", "record_timestamp"]
    assert first["datasetid"] == portal.items
    assert first["fields"] == v1_fields(ROWS[0])
    lon, lat = ROWS[0].location
    assert first["geometry"] == {"type": "Point", "coordinates": [lon, lat]}
    assert first["record_timestamp"].startswith("20")
    assert ids(body) == [1, 2, 3, 4, 5]


def test_record_ids_are_the_v21_ids(portal: Portal) -> None:
    v1 = portal.records(rows=30, sort="-id")
    v21 = portal.get(
        f"{EXPLORE}/catalog/datasets/{portal.items}/records",
        {"order_by": "id", "limit": 30, "include_links": "true"},
    )
    assert [r["recordid"] for r in v1["records"]] == [r["_id"] for r in v21["results"]]
    one = v1["records"][7]
    looked_up = portal.get(f"{EXPLORE}/catalog/datasets/{portal.items}/records/{one['recordid']}")
    assert looked_up["id"] == one["fields"]["id"]
    assert portal.get(f"{DATASETS}/{portal.items}/records/{one['recordid']}/") == one  # the v1 lookup
    missing = portal.client.get(f"{DATASETS}/{portal.items}/records/{'0' * 40}")
    assert (missing.status_code, missing.json()["errorcode"]) == (404, 10004)
    assert missing.json()["error_code"] == "record_not_found"


def test_sort_is_descending_by_default_and_paging_uses_rows_and_start(portal: Portal) -> None:
    assert ids(portal.records(rows=3, sort="population")) == [
        r.id for r in sorted((r for r in ROWS if r.population is not None), key=lambda r: -r.population)
    ][:3]  # fmt: skip
    assert ids(portal.records(rows=4, start=10, sort="-id")) == [11, 12, 13, 14]
    big = portal.records(rows=10000)
    assert len(big["records"]) == len(ROWS)


def test_q_full_text_field_queries_ranges_and_functions(portal: Portal) -> None:
    def matching(q: str) -> list[int]:
        return sorted(ids(portal.records(q=q, rows=100)))

    assert matching("lyon") == [r.id for r in ROWS if r.city == "Lyon"]
    assert matching('"saint denis"') == [r.id for r in ROWS if "saint denis" in f"{r.name} {r.city}".lower()]
    assert matching("city:lille OR city:lyon") == [r.id for r in ROWS if r.city in ("Lille", "Lyon")]
    assert matching("(city = 'Lille') OR (city = 'Lyon')") == matching("city:lille OR city:lyon")
    assert matching("population >= 20000 AND NOT city:paris") == [
        r.id for r in ROWS if r.population is not None and r.population >= 20000 and r.city != "Paris"
    ]
    assert matching("founded >= 2023/06/01") == [r.id for r in ROWS if r.founded.isoformat() >= "2023-06-01"]
    assert matching("founded:[2021 TO 2022]") == [r.id for r in ROWS if 2021 <= r.founded.year <= 2022]
    assert matching("#null(population)") == [r.id for r in ROWS if r.population is None]
    assert matching('#exact(city, "Saint Denis")') == [r.id for r in ROWS if r.city == "Saint Denis"]
    assert matching("updated <= #now()") == [r.id for r in ROWS]
    assert matching("updated >= #now(years=-1)") == []


def test_refine_recordid_finds_the_record(portal: Portal) -> None:
    wanted = portal.records(rows=3, sort="-id")["records"][2]
    found = portal.records(**{"refine.recordid": wanted["recordid"]})
    assert (found["nhits"], found["records"]) == (1, [wanted])
    others = portal.records(**{"exclude.recordid": wanted["recordid"], "rows": 100})
    assert others["nhits"] == len(ROWS) - 1 and wanted["fields"]["id"] not in ids(others)
    as_json = portal.client.get(
        f"{RECORDS}/download/",
        params={"dataset": portal.items, "refine.recordid": wanted["recordid"], "format": "json"},
    )
    assert json.loads(as_json.content) == [wanted]
    for params in ({"facet": "city"}, {"format": "csv"}, {}):  # csv: the download's default
        path = f"{RECORDS}/{'search' if 'facet' in params else 'download'}/"
        refused = portal.client.get(path, params={"dataset": portal.items, "refine.recordid": "x", **params})
        assert (refused.status_code, refused.json()["error_code"]) == (400, "v1_recordid_filter")


def test_refine_exclude_and_facet_groups(portal: Portal) -> None:
    body = portal.get(
        f"{RECORDS}/search/",
        [("dataset", portal.items), ("refine.city", "Paris"), ("exclude.id", "5"), ("facet", "city"),
         ("facet", "founded"), ("rows", "100")],
    )  # fmt: skip
    expected = [r for r in ROWS if r.city == "Paris" and r.id != 5]
    assert sorted(ids(body)) == [r.id for r in expected]
    assert body["parameters"]["refine"] == {"city": "Paris"}
    assert body["parameters"]["exclude"] == {"id": "5"}
    groups = {g["name"]: g["facets"] for g in body["facet_groups"]}
    assert groups["city"] == [{"name": "Paris", "path": "Paris", "count": len(expected), "state": "refined"}]
    years = Counter(str(r.founded.year) for r in expected)
    assert [(f["name"], f["count"]) for f in groups["founded"]] == sorted(years.items())
    one = portal.get(  # disjunctive with one refine: the same records; the facet lists every city
        f"{RECORDS}/search/",
        {"dataset": portal.items, "refine.city": "Paris", "disjunctive.city": "true", "facet": "city",
         "rows": 100},
    )  # fmt: skip
    assert sorted(ids(one)) == [r.id for r in ROWS if r.city == "Paris"]
    cities = {f["name"]: (f["count"], f["state"]) for f in one["facet_groups"][0]["facets"]}
    assert cities == {
        c: (n, "refined" if c == "Paris" else "displayed") for c, n in Counter(r.city for r in ROWS).items()
    }
    refused = portal.client.get(
        f"{RECORDS}/search/",
        params=[("dataset", portal.items), ("refine.city", "Paris"), ("refine.city", "Lyon"),
                ("disjunctive.city", "true")],
    )  # fmt: skip
    assert (refused.status_code, refused.json()["error_code"]) == (400, "v1_disjunctive_unsupported")
    year = min(years)
    by_month = portal.records(facet="founded", **{"refine.founded": year, "rows": 0})["facet_groups"][0]
    [refined] = by_month["facets"]
    assert (refined["path"], refined["state"]) == (year, "refined")
    months = Counter(f"{r.founded.month:02d}" for r in ROWS if str(r.founded.year) == year)
    assert [(m["name"], m["path"], m["count"]) for m in refined["facets"]] == [
        (month, f"{year}/{month}", n) for month, n in sorted(months.items())
    ]  # children named by their own part, as v1's "Using facets" shows


def test_geofilter_distance_keeps_the_records_in_the_circle(portal: Portal) -> None:
    lat, lon = 48.8566, 2.3522

    def meters(row: Row) -> float:
        p1, p2 = math.radians(lat), math.radians(row.location[1])
        dp, dl = p2 - p1, math.radians(row.location[0] - lon)
        a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        return 2 * 6371008.8 * math.asin(math.sqrt(a))

    body = portal.records(**{"geofilter.distance": f"{lat},{lon},15000", "rows": 100})
    assert sorted(ids(body)) == [r.id for r in ROWS if meters(r) <= 15000]
    assert 0 < body["nhits"] < len(ROWS)
    assert body["parameters"]["geofilter.distance"] == [f"{lat},{lon},15000"]


def test_geofilter_polygon_keeps_the_records_inside(portal: Portal) -> None:
    south, north, west, east = 48.85, 48.95, 2.35, 2.37  # a box around Paris and Saint Denis
    corners = [(south, west), (south, east), (north, east), (north, west)]
    polygon = ",".join(f"({lat},{lon})" for lat, lon in corners)
    body = portal.records(**{"geofilter.polygon": polygon, "rows": 100})
    inside = [r.id for r in ROWS if west < r.location[0] < east and south < r.location[1] < north]
    assert sorted(ids(body)) == inside
    assert 0 < len(inside) < len(ROWS)
    assert body["parameters"]["geofilter.polygon"] == [polygon]
    download = portal.client.get(
        f"{RECORDS}/download/",
        params={"dataset": portal.items, "format": "csv", "geofilter.polygon": polygon},
    )
    assert [int(r["id"]) for r in csv.DictReader(io.StringIO(download.text), delimiter=";")] == inside


def test_fields_restricts_what_each_record_holds(portal: Portal) -> None:
    body = portal.records(fields="id,city", rows=2, sort="-id")
    assert [r["fields"] for r in body["records"]] == [{"id": r.id, "city": r.city} for r in ROWS[:2]]
    assert "geometry" not in body["records"][0]


def test_timezone_moves_datetimes(portal: Portal) -> None:
    body = portal.records(timezone="Europe/Paris", rows=1, sort="-id")

    assert (
        body["records"][0]["fields"]["updated"]
        == ROWS[0].updated.astimezone(ZoneInfo("Europe/Paris")).isoformat()
    )


# -- datasets/1.0 -----------------------------------------------------------------------------------------
def test_datasets_search_lists_the_readable_datasets(portal: Portal) -> None:
    body = portal.get(f"{DATASETS}/search/", {"sort": "-records_count"})
    assert body["nhits"] == 2  # the restricted one is not listed without a key
    assert [d["datasetid"] for d in body["datasets"]] == [portal.few, portal.items]
    assert body["parameters"] == {"timezone": "UTC", "rows": 10, "start": 0, "sort": ["-records_count"],
                                  "format": "json", "staged": False}  # fmt: skip
    few, items = body["datasets"]
    assert few["interop_metas"] == {"inspire": {"contact_email": "gis@example.org"}}
    assert "interop_metas" not in items  # none set: left out, as v1 does
    assert items["metas"]["domain"] == "datawharf"
    assert None not in items["metas"].values()  # unset metas are left out (harvesters .strip() them)
    assert set(items) >= {"datasetid", "metas", "fields", "has_records", "features", "attachments"}
    assert items["metas"]["title"] == "Items of Paris"
    assert items["metas"]["records_count"] == len(ROWS)
    assert items["has_records"] is True
    assert set(items["features"]) == {"analyze", "geo", "timeserie"}
    fields = {f["name"]: f for f in items["fields"]}
    assert {name: f["type"] for name, f in fields.items()} == TYPES
    assert fields["city"]["annotations"] == [{"name": "facet"}]
    with_key = portal.get(f"{DATASETS}/search/", {"q": "budget"}, key=portal.reader_key)
    assert [d["datasetid"] for d in with_key["datasets"]] == [portal.secret]


def test_datasets_search_all_rows_and_refine_by_datasetid(portal: Portal) -> None:
    everything = portal.get(f"{DATASETS}/search/", {"rows": -1})  # as portal scrapers ask
    assert sorted(d["datasetid"] for d in everything["datasets"]) == sorted([portal.items, portal.few])
    assert everything["parameters"]["rows"] == -1
    one = portal.get(f"{DATASETS}/search/", {"refine.datasetid": portal.few, "interopmetas": "true"})
    assert [d["datasetid"] for d in one["datasets"]] == [portal.few]
    refused = portal.client.get(f"{RECORDS}/search/", params={"dataset": portal.items, "rows": -1})
    assert refused.json()["error_code"] == "v1_invalid_rows"


def test_datasets_search_q_refine_and_facets(portal: Portal) -> None:
    found = portal.get(f"{DATASETS}/search/", {"q": "title:paris"})
    assert [d["datasetid"] for d in found["datasets"]] == [portal.items]
    counted = portal.get(f"{DATASETS}/search/", {"q": "records_count > 10"})
    assert [d["datasetid"] for d in counted["datasets"]] == [portal.items]
    refined = portal.get(f"{DATASETS}/search/", {"refine.keyword": "bus", "facet": "keyword"})
    assert [d["datasetid"] for d in refined["datasets"]] == [portal.few]
    assert refined["facet_groups"] == [
        {"name": "keyword", "facets": [{"name": "bus", "path": "bus", "count": 1, "state": "refined"}]}
    ]


def test_dataset_lookup(portal: Portal) -> None:
    body = portal.get(f"{DATASETS}/{portal.items}/")
    assert body["datasetid"] == portal.items
    assert body["metas"]["keyword"] == ["bike", "city"]
    assert portal.get(f"{DATASETS}/{portal.items}")["datasetid"] == portal.items  # no slash: no redirect
    assert portal.get(f"{DATASETS}/search", {"q": "few"})["datasets"][0]["datasetid"] == portal.few
    assert portal.get(f"{RECORDS}/search", {"dataset": portal.few})["nhits"] == 3  # as fodr writes it


# -- access and errors ------------------------------------------------------------------------------------
def test_restricted_datasets_need_the_explore_permission(portal: Portal) -> None:
    for path, params in (
        (f"{DATASETS}/{portal.secret}/", {}),
        (f"{RECORDS}/search/", {"dataset": portal.secret}),
        (f"{RECORDS}/download/", {"dataset": portal.secret, "format": "csv"}),
        (f"/explore/dataset/{portal.secret}/download/", {}),
    ):
        refused = portal.client.get(path, params=params)
        assert refused.status_code == 404, path
        assert refused.json()["errorcode"] == 10004
        assert refused.json()["error_code"] == "dataset_not_found"
        assert portal.client.get(path, params={**params, "apikey": portal.reader_key}).status_code == 200
    assert portal.get(f"{RECORDS}/search/", {"dataset": portal.secret}, key=portal.reader_key)["nhits"] == 4


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "v1_dataset_parameter"),
        ({"q": "city:(", "rows": 1}, "v1_invalid_q"),
        ({"q": "nosuchfield > 3"}, "unknown_field"),
        ({"rows": 10001}, "v1_invalid_rows"),
        ({"rows": 5000, "start": 6000}, "v1_invalid_rows"),
        ({"geofilter.distance": "48.8,north,10"}, "v1_invalid_geofilter"),
        ({"geofilter.polygon": "(48.88,2.37),(48.87,2.37)"}, "v1_invalid_geofilter"),
        ({"geofilter.polygon": "(48.88,2.37),(48.87,2.37),(x,2.38)"}, "v1_invalid_geofilter"),
        ({"format": "csv"}, "v1_unsupported_format"),
        ({"sort": "nosuchfield"}, "unknown_field"),
        ({"facet": "location"}, "invalid_facet"),
        ({"timezone": "Mars/Olympus"}, "invalid_timezone"),
    ],
)
def test_bad_input_gets_a_v1_error(portal: Portal, params: dict[str, Any], code: str) -> None:
    if code != "v1_dataset_parameter":
        params = {"dataset": portal.items, **params}
    refused = portal.client.get(f"{RECORDS}/search/", params=params)
    assert refused.status_code == 400, refused.text
    body = refused.json()
    assert (body["errorcode"], body["error_code"]) == (10001, code)
    assert body["error"] and isinstance(body["detail"], dict)


# -- downloads --------------------------------------------------------------------------------------------
def test_records_download_streams_every_matching_record(portal: Portal) -> None:
    answer = portal.client.get(
        f"{RECORDS}/download/", params={"dataset": portal.items, "format": "csv", "refine.city": "Lyon"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text), delimiter=";"))
    assert [int(r["id"]) for r in rows] == [r.id for r in ROWS if r.city == "Lyon"]
    default = portal.client.get(f"{RECORDS}/download/", params={"dataset": portal.items, "q": "city:lille"})
    assert default.headers["content-type"].startswith("text/csv")  # csv unless asked, as scripts expect
    as_json = portal.client.get(
        f"{RECORDS}/download/", params={"dataset": portal.items, "q": "city:lille", "format": "json"}
    )
    lille = portal.records(q="city:lille", rows=100)
    assert json.loads(as_json.content) == lille["records"] and lille["nhits"] > 0
    lines = list(csv.DictReader(io.StringIO(default.text), delimiter=";"))
    assert [int(r["id"]) for r in lines] == [r["fields"]["id"] for r in lille["records"]]
    geo = portal.client.get(f"{RECORDS}/download/", params={"dataset": portal.items, "format": "geojson"})
    features = geo.json()["features"]
    assert len(features) == len(ROWS)
    # The v2.1 geojson writer's rule: the dataset's geo_shape when it has one (here `area`), else its point.
    assert [f["geometry"] for f in features] == [r.area for r in ROWS]


def test_the_portal_export_url(portal: Portal) -> None:
    answer = portal.client.get(
        f"/explore/dataset/{portal.items}/download",  # as odsclient writes it, and with the slash below
        params={"format": "csv", "use_labels_for_header": "true", "csv_separator": ","},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-disposition"] == f'attachment; filename="{portal.items}.csv"'
    assert not answer.content.startswith(b"\xef\xbb\xbf")
    header, *lines = list(csv.reader(io.StringIO(answer.text)))
    assert header[:3] == ["ID", "Name", "City"]
    assert len(lines) == len(ROWS)
    as_json = portal.client.get(f"/explore/dataset/{portal.items}/download/", params={"format": "json"})
    searched = portal.records(rows=len(ROWS), sort="-id")["records"]
    assert json.loads(as_json.content) == searched  # the search's v1 records, ids included, all of them
    checked = portal.client.head(f"/explore/dataset/{portal.items}/download/", params={"format": "csv"})
    assert checked.status_code == 200 and checked.content == b""  # a link checker's HEAD: no file made
    assert checked.headers["content-disposition"] == f'attachment; filename="{portal.items}.csv"'
    for _ in range(portal.client.app.state.settings.export_per_client + 2):  # each gave its slot back
        assert portal.client.head(f"/explore/dataset/{portal.items}/download/").status_code == 200
    assert portal.client.head(f"/explore/dataset/{portal.secret}/download/").status_code == 404
    unknown = portal.client.get(f"/explore/dataset/{portal.items}/download/", params={"format": "docx"})
    assert unknown.status_code == 400
    assert unknown.json()["error_code"] == "unknown_export_format"


def test_the_v1_routes_are_open_to_other_origins(portal: Portal) -> None:
    origin = {"Origin": "https://harvester.example.org"}
    for path, params in (
        (f"{DATASETS}/search/", {}),
        (f"{RECORDS}/search/", {"dataset": portal.items}),
        (f"{RECORDS}/search/", {}),  # an error too
        (f"/explore/dataset/{portal.items}/download/", {}),
    ):
        answer = portal.client.get(path, params=params, headers=origin)
        assert answer.status_code in (200, 400), answer.text
        assert answer.headers["access-control-allow-origin"] == "*"
