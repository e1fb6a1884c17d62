"""The catalog in RDF with rdflib: W3C DCAT (``rdf``: RDF/XML, ``ttl``: Turtle), DCAT-AP (``dcat`` and
the ``dcat_ap_*`` profiles that differ from it only in the profile they declare) and Dublin Core.

One graph: a ``dcat:Catalog`` holding a ``dcat:Dataset`` per dataset (its URI the dataset's Explore URL)
with title, description, identifier, keywords, themes (``skos:Concept``), modification date, publisher
(``foaf:Agent``), contact (``vcard:Kind``, from the ``dcat`` template), languages and access rights (EU
authority URIs), and a ``dcat:Distribution`` per export format (access and download URL, IANA media
type, EU file type, license). DCAT-AP adds the profile as ``dct:conformsTo`` of the catalog.

rdflib serializes a whole graph at once (its writers are not incremental): the graph is a few dozen
triples a dataset, built from metadata already in memory; it is sent in chunks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DC, DCAT, DCTERMS, FOAF, RDF, RDFS, SKOS, XSD

from datawharf.datasets.catalog import PublishedDataset
from datawharf.explore.catalog import instant, modified, public
from datawharf.exports import FORMATS
from datawharf.exports.catalog.context import LANGS, CatalogContext, newest, texts

CHUNK = 256 * 1024
EU = "http://publications.europa.eu/resource/authority"
IANA = "https://www.iana.org/assignments/media-types"
DCATAP = Namespace("http://data.europa.eu/r5r/")
VCARD = Namespace(
    "http://www.w3.org/2006/vcard/ns#"
)  # rdflib's VCARD is not exported by its namespace module

# DCAT-AP and the profiles that are DCAT-AP with another name: the URI each declares.
PROFILES: dict[str, str] = {
    "dcat": "https://semiceu.github.io/DCAT-AP/releases/2.1.1/",
    "dcat_ap_v1": "https://joinup.ec.europa.eu/release/dcat-ap/11",
    "dcat_ap_v3": "https://semiceu.github.io/DCAT-AP/releases/3.0.0/",
    "dcat_ap_se": "https://docs.dataportal.se/dcat/en/",
}
# The national profiles that need more than DCAT-AP: what each needs that datawharf does not hold.
UNSUPPORTED_PROFILES: dict[str, str] = {
    "dcat_ap_ch": "DCAT-AP CH needs identifiers of the form <id>@<organisation slug> of opendata.swiss and "
    "its own theme vocabulary.",
    "dcat_ap_de": "DCAT-AP.de needs dcatde:contributorID and GovData's license and theme vocabularies.",
    "dcat_ap_it": "DCAT-AP_IT needs its own classes (dcatapit:Dataset, dcatapit:Agent) and the IPA codes of "
    "rights holders.",
    "dcat_ap_sp": "NTI-RISP (datos.gob.es) needs the Spanish sector taxonomy and DIR3 publisher codes.",
    "dcat_ap_vl": "DCAT-AP VL needs Flemish organisation identifiers (OVO codes).",
    "dcat_ap_benap": "BE-NAP needs the mobilityDCAT-AP vocabulary of transport data.",
}
FILE_TYPES = {
    "csv": "CSV", "json": "JSON", "geojson": "GEOJSON", "xlsx": "XLSX", "parquet": "PARQUET", "shp": "SHP",
    "kml": "KML", "gpx": "GPX",
}  # fmt: skip  # the EU file-type authority's codes of our formats (jsonl and fgb have none)


def _text(value: str, lang: str | None) -> Literal:
    return Literal(value, lang=lang) if lang else Literal(value)


def _date_time(value: dt.datetime) -> Literal:
    return Literal(value.astimezone(dt.UTC).isoformat(), datatype=XSD.dateTime)


def _resource(graph: Graph, value: str, kind: URIRef) -> URIRef | BNode:
    """A URI as it is; a text as a blank node of ``kind`` labelled with it (DCAT-AP wants resources)."""
    if value.startswith(("http://", "https://")):
        return URIRef(value)
    node = BNode()
    graph.add((node, RDF.type, kind))
    graph.add((node, RDFS.label, Literal(value)))
    return node


def _agent(graph: Graph, name: str, kind: str | None = None) -> BNode:
    agent = BNode()
    graph.add((agent, RDF.type, FOAF.Agent))
    graph.add((agent, FOAF.name, Literal(name)))
    if kind:
        graph.add((agent, DCTERMS.type, _resource(graph, kind, SKOS.Concept)))
    return agent


def _interop(graph: Graph, node: URIRef, dcat: dict[str, Any], dcat_ap: dict[str, Any]) -> None:
    """What the ``dcat`` and ``dcat_ap`` metadata templates say of the dataset, as their properties."""
    for name, predicate in (("created", DCTERMS.created), ("issued", DCTERMS.issued)):
        if (when := instant(dcat.get(name))) is not None:
            graph.add((node, predicate, _date_time(when)))
    for name, predicate in (("creator", DCTERMS.creator), ("contributor", DCTERMS.contributor)):
        for value in texts(dcat.get(name)):
            graph.add((node, predicate, _agent(graph, value)))
    for value in texts(dcat.get("accrualperiodicity")):
        graph.add((node, DCTERMS.accrualPeriodicity, _resource(graph, value, DCTERMS.Frequency)))
    for value in texts(dcat.get("spatial")) + texts(dcat_ap.get("spatial")):
        graph.add((node, DCTERMS.spatial, _resource(graph, value, DCTERMS.Location)))
    start, end = instant(dcat.get("temporal_coverage_start")), instant(dcat.get("temporal_coverage_end"))
    if start is not None or end is not None or dcat.get("temporal"):
        period = BNode()
        graph.add((period, RDF.type, DCTERMS.PeriodOfTime))
        if start is not None:
            graph.add((period, DCAT.startDate, _date_time(start)))
        if end is not None:
            graph.add((period, DCAT.endDate, _date_time(end)))
        for text in texts(dcat.get("temporal")):
            graph.add((period, RDFS.label, Literal(text)))
        graph.add((node, DCTERMS.temporal, period))
    for value in texts(dcat.get("conforms_to")):
        graph.add((node, DCTERMS.conformsTo, _resource(graph, value, DCTERMS.Standard)))
    for value in texts(dcat.get("relation")):
        graph.add((node, DCTERMS.relation, _resource(graph, value, RDFS.Resource)))
    for name, predicate in (("hvd_category", DCATAP.hvdCategory), ("theme", DCAT.theme)):
        for value in texts(dcat_ap.get(name)):
            graph.add((node, predicate, _resource(graph, value, SKOS.Concept)))
    for value in texts(dcat_ap.get("applicable_legislation")):
        graph.add((node, DCATAP.applicableLegislation, _resource(graph, value, RDFS.Resource)))
    for value in texts(dcat_ap.get("landing_page")):
        graph.add((node, DCAT.landingPage, _resource(graph, value, FOAF.Document)))


def _dataset(graph: Graph, context: CatalogContext, dataset: PublishedDataset) -> URIRef:
    metas = public(dataset)["metas"]
    default, dcat_template = metas.get("default", {}), metas.get("dcat", {})
    lang = context.language(default)
    node = URIRef(context.dataset_url(dataset))
    graph.add((node, RDF.type, DCAT.Dataset))
    graph.add((node, DCTERMS.identifier, Literal(dataset.dataset_id)))
    graph.add((node, DCTERMS.title, _text(str(default.get("title") or dataset.dataset_id), lang)))
    for description in texts(default.get("description")):
        graph.add((node, DCTERMS.description, _text(description, lang)))
    for keyword in texts(default.get("keyword")):
        graph.add((node, DCAT.keyword, _text(keyword, lang)))
    for theme in texts(default.get("theme")):
        concept = BNode()
        graph.add((concept, RDF.type, SKOS.Concept))
        graph.add((concept, SKOS.prefLabel, _text(theme, lang)))
        graph.add((node, DCAT.theme, concept))
    changed = modified(dataset)
    if changed is not None:
        graph.add((node, DCTERMS.modified, _date_time(changed)))
    for name in texts(default.get("publisher")):
        graph.add((node, DCTERMS.publisher, _agent(graph, name, dcat_template.get("publisher_type"))))
    contact_name, contact_email = dcat_template.get("contact_name"), dcat_template.get("contact_email")
    if contact_name or contact_email:
        contact = BNode()
        graph.add((contact, RDF.type, VCARD.Kind))
        if contact_name:
            graph.add((contact, VCARD.fn, Literal(str(contact_name))))
        if contact_email:
            graph.add((contact, VCARD.hasEmail, URIRef(f"mailto:{contact_email}")))
        graph.add((node, DCAT.contactPoint, contact))
    for code in texts(default.get("language")):
        if code in LANGS:
            graph.add((node, DCTERMS.language, URIRef(f"{EU}/language/{LANGS[code]}")))
    rights = "RESTRICTED" if dataset.is_restricted else "PUBLIC"
    graph.add((node, DCTERMS.accessRights, URIRef(f"{EU}/access-right/{rights}")))
    _interop(graph, node, dcat_template, metas.get("dcat_ap", {}))
    if (node, DCAT.landingPage, None) not in graph:
        graph.add((node, DCAT.landingPage, node))
    licenses = [_resource(graph, v, DCTERMS.LicenseDocument) for v in texts(default.get("license"))]
    title = str(default.get("title") or dataset.dataset_id)
    for fmt, url in context.export_urls(dataset):
        distribution = URIRef(url)
        graph.add((distribution, RDF.type, DCAT.Distribution))
        graph.add((distribution, DCTERMS.title, _text(f"{title} ({fmt})", lang)))
        graph.add((distribution, DCAT.accessURL, distribution))
        graph.add((distribution, DCAT.downloadURL, distribution))
        media_type = FORMATS[fmt].media_type.split(";")[0]
        graph.add((distribution, DCAT.mediaType, URIRef(f"{IANA}/{media_type}")))
        if fmt in FILE_TYPES:
            graph.add((distribution, DCTERMS["format"], URIRef(f"{EU}/file-type/{FILE_TYPES[fmt]}")))
        for license_node in licenses:
            graph.add((distribution, DCTERMS.license, license_node))
        graph.add((node, DCAT.distribution, distribution))
    return node


def catalog_graph(context: CatalogContext, datasets: Sequence[PublishedDataset]) -> Graph:
    """The DCAT graph of the catalog; DCAT-AP's profile declared when ``context.profile`` is one."""
    graph = Graph()
    graph.bind("dcat", DCAT)
    graph.bind("dct", DCTERMS)
    graph.bind("foaf", FOAF)
    graph.bind("skos", SKOS)
    graph.bind("vcard", VCARD)
    graph.bind("dcatap", DCATAP)
    root = URIRef(f"{context.api_root}/catalog/datasets")
    graph.add((root, RDF.type, DCAT.Catalog))
    graph.add((root, DCTERMS.title, _text("datawharf catalog", context.lang)))
    graph.add(
        (root, DCTERMS.description, _text(f"The {len(datasets)} datasets of this catalog.", context.lang))
    )
    graph.add((root, DCTERMS.publisher, _agent(graph, "datawharf")))
    graph.add((root, FOAF.homepage, URIRef(context.api_root)))
    profile = PROFILES.get(context.profile or "")
    if profile is not None:
        graph.add((root, DCTERMS.conformsTo, URIRef(profile)))
    if (changed := newest(datasets)) is not None:
        graph.add((root, DCTERMS.modified, _date_time(changed)))
    for dataset in datasets:
        graph.add((root, DCAT.dataset, _dataset(graph, context, dataset)))
    return graph


def _chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]


def writer(rdf_format: str) -> Callable[[CatalogContext, Sequence[PublishedDataset]], Iterator[bytes]]:
    """A catalog writer serializing the DCAT graph as ``rdf_format`` (rdflib's name: xml, turtle)."""

    def write(context: CatalogContext, datasets: Sequence[PublishedDataset]) -> Iterator[bytes]:
        graph = catalog_graph(context, datasets)
        yield from _chunks(graph.serialize(format=rdf_format, encoding="utf-8"))

    return write


DUBLIN_CORE = (
    (DC.description, "description"),
    (DC.subject, "keyword"),
    (DC.subject, "theme"),
    (DC.publisher, "publisher"),
    (DC.rights, "license"),
    (DC.language, "language"),
)  # element, the default template's field it comes from


def write_dublin_core(context: CatalogContext, datasets: Sequence[PublishedDataset]) -> Iterator[bytes]:
    """Each dataset described with the fifteen Dublin Core elements it has (``dc:``), in RDF/XML."""
    graph = Graph()
    graph.bind("dc", DC)
    for dataset in datasets:
        default = public(dataset)["metas"].get("default", {})
        lang = context.language(default)
        node = URIRef(context.dataset_url(dataset))
        graph.add((node, DC.identifier, Literal(dataset.dataset_id)))
        graph.add((node, DC.title, _text(str(default.get("title") or dataset.dataset_id), lang)))
        graph.add((node, DC.type, Literal("Dataset")))
        for element, name in DUBLIN_CORE:
            for value in texts(default.get(name)):
                graph.add((node, element, _text(value, lang if element != DC.language else None)))
        changed = modified(dataset)
        if changed is not None:
            graph.add((node, DC.date, Literal(changed.astimezone(dt.UTC).date().isoformat())))
    yield from _chunks(graph.serialize(format="xml", encoding="utf-8"))
