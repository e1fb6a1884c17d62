"""Explore API v2.1 catalog exports (``/catalog/exports/{format}``) of datasets published for real, each
file read back with an independent parser (csv, json, openpyxl, ElementTree, rdflib) and compared with
the metadata the datasets were published with."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DC, DCAT, DCTERMS, FOAF, RDF, SKOS

from tests.support.explore import EXPLORE, ROWS, csv_bytes, explore_client, publish_csv
from tests.support.moto import MotoServer

BASE = f"http://testserver{EXPLORE}"
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
EU = "http://publications.europa.eu/resource/authority"


@dataclass(frozen=True)
class Source:
    """What one dataset was published with."""

    title: str
    description: str
    keywords: tuple[str, ...]
    themes: list[str]
    publisher: str
    license: str
    language: str
    geo: bool


SOURCES = [
    Source("Items", "Places; with <markup> & \"quotes\"", ("bike", "city"), ["Transport", "Urbanism"],
           "Ville de Paris", "https://opendatacommons.org/licenses/odbl/", "fr", True),
    Source("Plain", "Codes and labels", ("codes",), ["Economy"], "INSEE", "Licence Ouverte", "en", False),
]  # fmt: skip


FREQUENCY = f"{EU}/frequency/MONTHLY"
THEME = f"{EU}/data-theme/TRAN"
HVD = "http://data.europa.eu/bna/c_b79e35eb"
INTEROP = {  # the Items dataset's dcat and dcat_ap templates
    "dcat": {
        "issued": "2023-05-01T08:00:00+00:00",
        "creator": "Service SIG",
        "accrualperiodicity": FREQUENCY,
        "temporal_coverage_start": "2020-01-01T00:00:00+00:00",
        "temporal_coverage_end": "2024-12-31T00:00:00+00:00",
        "conforms_to": ["https://example.org/standard"],
    },
    "dcat_ap": {"theme": [THEME], "landing_page": "https://example.org/items", "hvd_category": [HVD]},
}


@dataclass(frozen=True)
class Catalog:
    client: TestClient
    ids: dict[str, str]  # title -> dataset_id

    def export(self, fmt: str, **params: Any) -> Any:
        return self.client.get(f"{EXPLORE}/catalog/exports/{fmt}", params=params)

    def ok(self, fmt: str, **params: Any) -> bytes:
        response = self.export(fmt, **params)
        assert response.status_code == 200, response.text
        return response.content

    def url(self, title: str) -> str:
        return f"{BASE}/catalog/datasets/{self.ids[title]}"


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, moto_server: MotoServer) -> Iterator[Catalog]:
    with explore_client(tmp_path_factory.mktemp("catalog-exports"), moto_server) as client:
        bucket = moto_server.create_bucket()
        ids = {}
        for source in SOURCES:
            body = csv_bytes(ROWS) if source.geo else b"code;label\n1;one\n2;two\n"
            metadata = {
                "default": {
                    "title": {"value": source.title},
                    "description": {"value": source.description},
                    "keyword": {"value": list(source.keywords)},
                    "theme": {"value": source.themes},
                    "publisher": {"value": source.publisher},
                    "license": {"value": source.license},
                    "language": {"value": source.language},
                },
                "dcat": {
                    "contact_name": {"value": "Data team"},
                    "contact_email": {"value": "data@example.org"},
                },
            }
            if source.geo:
                for template, values in INTEROP.items():
                    fields = metadata.setdefault(template, {})
                    fields.update({name: {"value": value} for name, value in values.items()})
            dataset = publish_csv(
                client, moto_server, bucket, f"{source.title}.csv", body, source.title,
                keywords=source.keywords, metadata=metadata,
            )  # fmt: skip
            ids[source.title] = dataset["dataset_id"]
        yield Catalog(client, ids)


def test_the_list_links_every_catalog_format(published: Catalog) -> None:
    body = published.client.get(f"{EXPLORE}/catalog/exports").json()
    assert published.client.get(f"{EXPLORE}/catalog/exports/").json() == body  # with the slash too
    rels = {link["rel"]: link["href"] for link in body["links"]}
    assert rels["self"] == f"{BASE}/catalog/exports"
    for fmt in ("csv", "json", "xlsx", "rss", "rdf", "ttl", "data.json", "dcat", "dcat_ap_v3", "dublin_core"):
        assert rels[fmt] == f"{BASE}/catalog/exports/{fmt}"
        assert published.export(fmt).status_code == 200, fmt


def test_csv_one_row_a_dataset_lists_joined(published: Catalog) -> None:
    content = published.ok("csv", delimiter=",", list_separator="|", quote_all="true", order_by="title")
    assert content.startswith("\ufeff".encode())
    text = content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=","))
    assert [r["title"] for r in rows] == sorted(s.title for s in SOURCES)
    for source, row in zip(sorted(SOURCES, key=lambda s: s.title), rows, strict=True):
        assert row["dataset_id"] == published.ids[source.title]
        assert row["description"] == source.description
        assert row["keyword"] == "|".join(source.keywords)
        assert row["theme"] == "|".join(source.themes)
        assert row["publisher"] == source.publisher
        assert row["records_count"] == str(len(ROWS) if source.geo else 2)
    assert text.splitlines()[1].startswith('"')  # quote_all quoted even the plain values


def test_where_refine_exclude_limit_pick_the_datasets(published: Catalog) -> None:
    def titles(**params: Any) -> list[str]:
        return [d["metas"]["default"]["title"] for d in json.loads(published.ok("json", **params))]

    assert titles(where="records_count > 10") == ["Items"]
    assert titles(refine="keyword:codes") == ["Plain"]
    assert titles(exclude="keyword:codes") == ["Items"]
    assert titles(order_by="title desc", limit=1) == ["Plain"]
    assert sorted(titles()) == ["Items", "Plain"]
    assert sorted(titles(limit=-1)) == ["Items", "Plain"]  # -1: all of them, as dataset exports
    assert titles(order_by="title", offset=1) == ["Plain"]


def test_json_holds_the_dataset_objects_of_the_catalog(published: Catalog) -> None:
    exported = {d["dataset_id"]: d for d in json.loads(published.ok("json"))}
    listed = published.client.get(f"{EXPLORE}/catalog/datasets", params={"limit": 100}).json()["results"]
    assert exported == {d["dataset_id"]: d for d in listed}


def test_xlsx_read_back(published: Catalog) -> None:
    sheet = openpyxl.load_workbook(io.BytesIO(published.ok("xlsx", order_by="title"))).active
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    assert header[:3] == ["dataset_id", "dataset_uid", "title"]
    titles = [r[header.index("title")] for r in rows[1:]]
    assert titles == ["Items", "Plain"]
    assert rows[1][header.index("keyword")] == ",".join(SOURCES[0].keywords)  # list_separator's default


def test_rss_one_item_a_dataset(published: Catalog) -> None:
    channel = ET.fromstring(published.ok("rss", lang="fr")).find("channel")
    assert channel is not None and channel.findtext("language") == "fr"
    items = {item.findtext("title"): item for item in channel.findall("item")}
    assert set(items) == {"Items", "Plain"}
    item = items["Items"]
    assert item.findtext("link") == published.url("Items")
    assert item.findtext("description") == SOURCES[0].description
    assert parsedate_to_datetime(item.findtext("pubDate") or "").tzinfo is not None
    categories = {(c.get("domain"), c.text) for c in item.findall("category")}
    assert categories == {("keyword", k) for k in SOURCES[0].keywords} | {
        ("theme", t) for t in SOURCES[0].themes
    }


def _graph(content: bytes, rdf_format: str) -> Graph:
    return Graph().parse(data=content, format=rdf_format)


@pytest.mark.parametrize(("fmt", "rdf_format"), [("rdf", "xml"), ("ttl", "turtle"), ("dcat", "xml")])
def test_dcat_describes_each_dataset_and_its_distributions(
    published: Catalog, fmt: str, rdf_format: str
) -> None:
    graph = _graph(published.ok(fmt), rdf_format)
    catalog = URIRef(f"{BASE}/catalog/datasets")
    assert (catalog, RDF.type, DCAT.Catalog) in graph
    assert set(graph.objects(catalog, DCAT.dataset)) == {URIRef(published.url(s.title)) for s in SOURCES}
    for source in SOURCES:
        node = URIRef(published.url(source.title))
        assert (node, RDF.type, DCAT.Dataset) in graph
        assert graph.value(node, DCTERMS.title) == Literal(source.title, lang=source.language)
        assert graph.value(node, DCTERMS.identifier) == Literal(published.ids[source.title])
        assert {str(k) for k in graph.objects(node, DCAT.keyword)} == set(source.keywords)
        labels = [graph.value(t, SKOS.prefLabel) for t in graph.objects(node, DCAT.theme)]
        assert {str(label) for label in labels if label is not None} == set(source.themes)
        assert graph.value(graph.value(node, DCTERMS.publisher), FOAF.name) == Literal(source.publisher)
        contact = graph.value(node, DCAT.contactPoint)
        assert graph.value(contact, VCARD.hasEmail) == URIRef("mailto:data@example.org")
        language = {"fr": "FRA", "en": "ENG"}[source.language]
        assert graph.value(node, DCTERMS.language) == URIRef(f"{EU}/language/{language}")
        distributions = {
            str(graph.value(d, DCAT.downloadURL)): d for d in graph.objects(node, DCAT.distribution)
        }
        base = f"{published.url(source.title)}/exports"
        assert f"{base}/csv?use_labels=true" in distributions
        assert (f"{base}/geojson" in distributions) is source.geo
        csv_distribution = distributions[f"{base}/csv?use_labels=true"]
        assert graph.value(csv_distribution, DCAT.mediaType) == URIRef(
            "https://www.iana.org/assignments/media-types/text/csv"
        )
        assert graph.value(csv_distribution, DCTERMS["format"]) == URIRef(f"{EU}/file-type/CSV")
        if source.license.startswith("https://"):
            assert graph.value(csv_distribution, DCTERMS.license) == URIRef(source.license)
    profile = graph.value(catalog, DCTERMS.conformsTo)
    assert (profile is not None) is (fmt == "dcat")


@pytest.mark.parametrize(
    ("fmt", "profile"),
    [
        ("dcat_ap_v3", "https://semiceu.github.io/DCAT-AP/releases/3.0.0/"),
        ("dcat-ap-v1", "https://joinup.ec.europa.eu/release/dcat-ap/11"),  # the JS client's spelling
        ("dcat_ap_se", "https://docs.dataportal.se/dcat/en/"),
    ],
)
def test_dcat_ap_profiles_declare_their_profile(published: Catalog, fmt: str, profile: str) -> None:
    graph = _graph(published.ok(fmt), "xml")
    catalog = URIRef(f"{BASE}/catalog/datasets")
    assert graph.value(catalog, DCTERMS.conformsTo) == URIRef(profile)
    assert len(set(graph.subjects(RDF.type, DCAT.Dataset))) == len(SOURCES)


def test_include_exports_and_lang(published: Catalog) -> None:
    graph = _graph(
        published.ok("ttl", include_exports="csv,json", use_labels_in_exports="false", lang="de"), "turtle"
    )
    node = URIRef(published.url("Items"))
    urls = {str(graph.value(d, DCAT.downloadURL)) for d in graph.objects(node, DCAT.distribution)}
    assert urls == {f"{published.url('Items')}/exports/csv", f"{published.url('Items')}/exports/json"}
    assert graph.value(node, DCTERMS.title) == Literal("Items", lang="de")


def test_dublin_core(published: Catalog) -> None:
    graph = _graph(published.ok("dublin_core"), "xml")
    node = URIRef(published.url("Plain"))
    assert graph.value(node, DC.title) == Literal("Plain", lang="en")
    assert {str(s) for s in graph.objects(node, DC.subject)} == {"codes", "Economy"}
    assert graph.value(node, DC.rights) == Literal("Licence Ouverte", lang="en")


def test_data_json_is_a_project_open_data_catalog(published: Catalog) -> None:
    response = published.export("data.json")
    assert response.headers["content-disposition"] == 'attachment; filename="data.json"'
    body = response.json()
    assert body["conformsTo"] == "https://project-open-data.cio.gov/v1.1/schema"
    assert body["@type"] == "dcat:Catalog"
    entries = {d["title"]: d for d in body["dataset"]}
    assert set(entries) == {"Items", "Plain"}
    required = {"title", "description", "keyword", "modified", "publisher", "contactPoint", "identifier",
                "accessLevel"}  # fmt: skip  # POD 1.1's required fields of a non-federal dataset
    for source in SOURCES:
        entry = entries[source.title]
        assert required <= set(entry)
        assert entry["identifier"] == published.url(source.title)
        assert entry["keyword"] == list(source.keywords)
        assert entry["publisher"] == {"@type": "org:Organization", "name": source.publisher}
        assert entry["contactPoint"] == {
            "@type": "vcard:Contact",
            "fn": "Data team",
            "hasEmail": "mailto:data@example.org",
        }
        assert entry["accessLevel"] == "public"
        assert {d["format"] for d in entry["distribution"]} >= {"csv", "json", "parquet"}
    assert entries["Items"]["license"] == SOURCES[0].license


@pytest.mark.parametrize(
    ("fmt", "params", "code"),
    [
        ("dcat_ap_de", {}, "catalog_export_profile_not_supported"),
        ("dcat-ap-it", {}, "catalog_export_profile_not_supported"),
        ("sitemap", {}, "unknown_export_format"),
        ("csv", {"lang": "xx"}, "invalid_lang"),
        ("csv", {"select": "title"}, "catalog_export_select_not_supported"),
        ("csv", {"list_separator": ""}, "invalid_list_separator"),
        ("dcat", {"include_exports": "csv,docx"}, "unknown_export_format"),
        ("csv", {"where": "title >"}, "odsql_syntax_error"),
    ],
)
def test_bad_requests_are_specific_errors(
    published: Catalog, fmt: str, params: dict[str, str], code: str
) -> None:
    response = published.export(fmt, **params)
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == code


def test_dcat_carries_the_dcat_and_dcat_ap_templates(published: Catalog) -> None:
    graph = _graph(published.ok("dcat"), "xml")
    node = URIRef(published.url("Items"))
    issued = graph.value(node, DCTERMS.issued)
    assert isinstance(issued, Literal) and issued.toPython().isoformat() == INTEROP["dcat"]["issued"]
    assert graph.value(graph.value(node, DCTERMS.creator), FOAF.name) == Literal("Service SIG")
    assert graph.value(node, DCTERMS.accrualPeriodicity) == URIRef(FREQUENCY)
    period = graph.value(node, DCTERMS.temporal)
    years = [graph.value(period, p).toPython().year for p in (DCAT.startDate, DCAT.endDate)]  # type: ignore[union-attr]
    assert years == [2020, 2024]
    assert graph.value(node, DCTERMS.conformsTo) == URIRef("https://example.org/standard")
    assert URIRef(THEME) in set(graph.objects(node, DCAT.theme))  # beside the default template's themes
    assert graph.value(node, DCAT.landingPage) == URIRef("https://example.org/items")
    assert graph.value(node, Namespace("http://data.europa.eu/r5r/").hvdCategory) == URIRef(HVD)
    plain = URIRef(published.url("Plain"))
    assert graph.value(plain, DCAT.landingPage) == plain  # none given: its Explore URL
    assert graph.value(plain, DCTERMS.temporal) is None


def test_data_json_carries_the_dcat_templates(published: Catalog) -> None:
    entries = {d["title"]: d for d in published.export("data.json").json()["dataset"]}
    items = entries["Items"]
    assert items["issued"] == INTEROP["dcat"]["issued"]
    assert items["temporal"] == "2020-01-01T00:00:00+00:00/2024-12-31T00:00:00+00:00"
    assert items["conformsTo"] == "https://example.org/standard"
    assert items["landingPage"] == "https://example.org/items"
    assert "accrualPeriodicity" not in items  # a frequency URI is no ISO 8601 repeating duration
    assert entries["Plain"]["landingPage"] == published.url("Plain")
