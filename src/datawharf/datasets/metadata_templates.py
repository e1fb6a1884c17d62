"""The metadata templates datawharf knows, field by field: what a dataset's metadata may hold.

``default``, ``visualization``, ``internal`` and ``asset_content_configuration`` have exactly the fields and
value types the reference declares (``DatasetMetadataDefault``, ``...Visualization``, ``...Internal``,
``...AssetContentConfiguration``; the help texts are the reference's descriptions). ``default`` adds the
four fields Opendatasoft portals also answer there and that clients read or write: ``license`` (the
license's name, beside ``internal.license_id``), ``theme`` (the themes' labels), and ``license_id`` /
``theme_id``, which are ``internal``'s, shown in ``default`` too (``ALIASES``): huwise-utils-py sets
``default.license_id`` and reads ``default.theme_id``. A portal's own templates and fields (data.bs.ch's
``dcat_ap_ch``, ``custom``, ``default.tags``, which huwise-utils-py also calls) are not datawharf's.

The reference declares no fields for the interoperability templates (``dcat``, ``dcat_ap``, ``inspire``,
``semantic``: ``DatasetMetadataCustom``, any field); their fields here are those Opendatasoft documents
for them, the ones the clients of issue 15 call among them (``dcat.created``, ``dcat.temporal``...).

``TEMPLATES`` is the one list: validation (``datasets/metadata.py``), ``GET /metadata/templates/`` and the
backoffice's form all read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from datawharf.settings import Language

LANGUAGES: tuple[str, ...] = get_args(Language)
FACET_SORTS = ("count", "num", "alphanum", "-count", "-num", "-alphanum")
DISPLAY_LANGUAGES = ("en", "fr", "nl")  # the reference's enum for fields_displayed_in_specific_languages

# How a value is checked: "text" a non-empty string, "html" the same (shown as rich text), "list" a list of
# non-empty strings, "datetime" an ISO 8601 date-time, "language" one of LANGUAGES, "boolean", "int",
# "double"; and the three structured values of asset_content_configuration, as the reference declares
# them: "facets" (a list of {field_name, facetsort?, disjunctive?, timerange_filter?}), "field_languages"
# ({field: [en|fr|nl, ...]}), "field_boosts" ({field: integer >= 0}).
Kind = Literal[
    "text", "html", "list", "datetime", "language", "boolean", "int", "double",
    "facets", "field_languages", "field_boosts",
]  # fmt: skip
TemplateType = Literal["interop", "basic", "extra", "admin"]

# The reference's MetadataTemplateField.type of each kind.
FIELD_TYPES: dict[str, str] = {
    "text": "text",
    "html": "html",
    "list": "list",
    "datetime": "datetime",
    "language": "enum",
    "boolean": "boolean",
    "int": "int",
    "double": "double",
    "facets": "longstring",
    "field_languages": "longstring",
    "field_boosts": "longstring",
}


@dataclass(frozen=True)
class MetadataField:
    name: str
    kind: Kind
    help_text: str
    label: str

    @property
    def choices(self) -> tuple[str, ...] | None:
        return LANGUAGES if self.kind == "language" else None


@dataclass(frozen=True)
class MetadataTemplateSpec:
    name: str
    title: str
    type: TemplateType
    is_always_active: bool
    fields: tuple[MetadataField, ...]

    def field(self, name: str) -> MetadataField | None:
        return next((f for f in self.fields if f.name == name), None)


def _f(name: str, kind: Kind, help_text: str, label: str | None = None) -> MetadataField:
    return MetadataField(name, kind, help_text, label or name.replace("_", " ").capitalize())


_DEFAULT = (
    _f("title", "text", "Title of the dataset.", "Title"),
    _f("description", "html", "Description of the dataset.", "Description"),
    _f(
        "keyword",
        "list",
        "Keywords to define the dataset and better find it through searches. Keywords are one of the "
        "catalog filters available in the front office of an Opendatasoft portal.",
    ),
    _f("modified", "datetime", "Date indicating when the dataset was last modified."),
    _f(
        "modified_updates_on_metadata_change",
        "boolean",
        "If the `modified` date should automatically be updated on metadata changes.",
    ),
    _f(
        "modified_updates_on_data_change",
        "boolean",
        "If the `modified` date should automatically be updated on data changes.",
    ),
    _f("geographic_reference", "list", "Geographic References."),
    _f("geographic_reference_auto", "boolean", "Geographic References automatic computation."),
    _f("language", "language", "Language of the data in the dataset."),
    _f(
        "timezone",
        "text",
        "Forces the dataset visualizations to use the defined timezone for the date and datetime fields. "
        "It avoids the dataset visualizations to depend on the timezone on which the user's computer is "
        "set.",
    ),
    _f("publisher", "text", "Name of the person or organization who published the dataset."),
    _f("references", "text", "Link to the source of the dataset."),
    _f(
        "attributions",
        "list",
        "Link to a source of the dataset that should be mentioned for legal reasons (e.g. if the license "
        "demands the mention of a specific source or organization).",
    ),
    _f(
        "license", "text", 'Name of the license the dataset is published under (e.g. "CC BY 4.0").', "License"
    ),
    _f("license_id", "text", "The license identifier: the same value as internal.license_id.", "License id"),
    _f("theme", "list", "Themes of the dataset, as shown in the catalog.", "Themes"),
    _f("theme_id", "list", "The theme identifiers: the same value as internal.theme_id.", "Theme ids"),
)

_VISUALIZATION = (
    _f("analyze_disabled", "boolean", "Toggle for the analyze tab in explore."),
    _f("analyze_default", "text", "Default analyze chart."),
    _f("table_fields", "list", "Fields displayed in Table visualization."),
    _f("table_default_sort_field", "text", "Default initial sort field in Table visualization."),
    _f("table_default_sort_direction", "text", "Default initial sort direction in Table visualization."),
    _f("map_disabled", "boolean", "Toggle for the map tab in explore."),
    _f("map_marker_picto", "text", "Picto used for markers on maps."),
    _f("map_marker_color", "text", "Color used for markers on maps (#xxxxxx hex code)."),
    _f("map_marker_hidemarkershape", "boolean", "Hide the marker shape and only show the icon."),
    _f("map_tooltip_title", "text", "Field used as title of the Map visualization tooltips."),
    _f("map_tooltip_fields", "list", "Fields displayed in Map visualization tooltips."),
    _f("map_tooltip_disabled", "boolean", "Disable map tooltips."),
    _f("map_tooltip_html_enabled", "boolean", "Use the HTML template for the map tooltips."),
    _f("map_tooltip_html", "text", "HTML template of the tooltip."),
    _f("map_tooltip_sort_field", "text", "Sort field in map tooltips."),
    _f("map_tooltip_sort_direction", "text", "Sort direction in map tooltips."),
    _f("map_basemap", "text", "Default basemap identifier."),
    _f("images_disabled", "boolean", "Toggle for the image tab in explore."),
    _f("media_gallery_fields", "list", "Fields used to generate the media gallery."),
    _f("image_title", "text", "Field used as title on the image thumbnail."),
    _f("image_fields", "list", "Fields displayed when the image is clicked."),
    _f("image_tooltip_html_enabled", "boolean", "Use the HTML template for the image tooltips."),
    _f("image_tooltip_html", "list", "HTML template of the image tooltip."),
    _f("calendar_enabled", "boolean", "Field used as title on the calendars."),
    _f("calendar_event_title", "text", "Field used as title on the calendars."),
    _f("calendar_event_start", "text", "Field used as start date on calendars."),
    _f("calendar_event_end", "text", "Field used as end date on calendars."),
    _f("calendar_tooltip_html_enabled", "boolean", "Use the HTML template for the calendar tooltips."),
    _f("calendar_tooltip_html", "text", "HTML template of the tooltip."),
    _f("calendar_tooltip_fields", "list", "Fields displayed in Calendar visualization tooltips."),
    _f("calendar_event_color", "text", "Color used for events on calendars."),
    _f("calendar_available_views", "text", "Available views for the calendar."),
    _f("calendar_default_view", "text", "Default view for the calendar."),
    _f("custom_view_enabled", "boolean", "Toggle for the custom view."),
    _f("custom_view_html", "text", "HTML content for the custom view."),
    _f("custom_view_css", "text", "CSS style for the custom view."),
    _f("custom_view_icon", "text", "Name of the font-awesome icon used as title."),
    _f("custom_view_title", "text", "Title of the custom tab."),
    _f("custom_view_slug", "text", "Slug of the custom tab."),
)

_INTERNAL = (
    _f(
        "license_id",
        "text",
        "The license identifier. The identifier refers to the list of configured licenses in the domain.",
    ),
    _f(
        "theme_id",
        "list",
        "The list of theme identifiers. The identifiers refer to the list of configured theme in the domain.",
    ),
    _f(
        "draft",
        "boolean",
        "If the dataset is a draft, it isn't visible in the dataset list and can't be published.",
    ),
)

_ASSET_CONTENT = (
    _f("facets", "facets", "The set of facets for the asset."),
    _f(
        "fields_displayed_in_specific_languages",
        "field_languages",
        "The fields that should only be displayed in specific languages.",
    ),
    _f("records_search_boosts", "field_boosts", "The importance of each fields in full-text search."),
)

_DCAT = (
    _f("created", "datetime", "Date of creation of the dataset (dct:created)."),
    _f("issued", "datetime", "Date of first publication of the dataset (dct:issued)."),
    _f("creator", "text", "Person or organization that produced the data (dct:creator)."),
    _f("contributor", "text", "Person or organization that contributed to the data (dct:contributor)."),
    _f("contact_name", "text", "Name of the contact point for the dataset (dcat:contactPoint)."),
    _f("contact_email", "text", "E-mail address of the contact point (vcard:hasEmail)."),
    _f(
        "accrualperiodicity",
        "text",
        "How often the dataset is updated: a frequency URI (dct:accrualPeriodicity).",
    ),
    _f("spatial", "text", "Geographic area the dataset covers (dct:spatial)."),
    _f("temporal", "text", "Time period the dataset covers, as text (dct:temporal)."),
    _f("temporal_coverage_start", "datetime", "Start of the period the dataset covers (dcat:startDate)."),
    _f("temporal_coverage_end", "datetime", "End of the period the dataset covers (dcat:endDate)."),
    _f("granularity", "text", "Smallest unit of the data: a record per day, per town... (dcat:granularity)."),
    _f("dataquality", "html", "What is known of the data's quality (dqv:hasQualityAnnotation)."),
    _f("publisher_type", "text", "Kind of publisher: a publisher-type URI (dct:type of dct:publisher)."),
    _f("conforms_to", "list", "Standards the data conforms to (dct:conformsTo)."),
    _f("accessRights", "text", "Who may access the dataset (dct:accessRights)."),
    _f("relation", "text", "Link to a related resource (dct:relation)."),
)

_DCAT_AP = (
    _f("hvd_category", "list", "High-value dataset categories, as EU vocabulary URIs (dcatap:hvdCategory)."),
    _f(
        "applicable_legislation",
        "list",
        "Legislation that mandates the dataset, as ELI URIs (dcatap:applicableLegislation).",
    ),
    _f("theme", "list", "EU data themes of the dataset, as EU vocabulary URIs (dcat:theme)."),
    _f("spatial", "list", "Places the dataset covers, as EU vocabulary URIs (dct:spatial)."),
    _f("landing_page", "text", "Web page describing the dataset (dcat:landingPage)."),
)

_INSPIRE = (
    _f("theme", "list", "INSPIRE themes of the dataset."),
    _f("type", "text", "Type of the spatial data (vector, grid...)."),
    _f("file_identifier", "text", "Unique identifier of the metadata record."),
    _f("hierarchy_level", "text", "Scope of the metadata (dataset, series...)."),
    _f("hierarchy_level_name", "text", "Name of the hierarchy level."),
    _f("spatial_resolution", "int", "Spatial resolution, as the scale's denominator."),
    _f("topologic_consistency", "text", "Topological consistency of the data."),
    _f("contact_individual_name", "text", "Name of the contact person."),
    _f("contact_position", "text", "Position of the contact person."),
    _f("contact_address", "text", "Postal address of the contact."),
    _f("contact_email", "text", "E-mail address of the contact."),
    _f("identification_purpose", "text", "Purpose of the data."),
    _f("extend_description", "text", "Description of the geographic extent."),
    _f("north_bound_latitude", "double", "Northern limit of the extent (WGS 84)."),
    _f("south_bound_latitude", "double", "Southern limit of the extent (WGS 84)."),
    _f("east_bound_longitude", "double", "Eastern limit of the extent (WGS 84)."),
    _f("west_bound_longitude", "double", "Western limit of the extent (WGS 84)."),
    _f("encoding_format", "text", "Format of the distributed data."),
    _f("encoding_format_version", "text", "Version of that format."),
)

_SEMANTIC = (
    _f("rml_mapping", "text", "RML mapping of the records to RDF."),
    _f("classes", "list", "RDF classes the records are instances of."),
    _f("properties", "list", "RDF properties the fields map to."),
)

TEMPLATES: dict[str, MetadataTemplateSpec] = {
    spec.name: spec
    for spec in (
        MetadataTemplateSpec("default", "Standard metadata", "basic", True, _DEFAULT),
        MetadataTemplateSpec("visualization", "Visualization settings", "extra", False, _VISUALIZATION),
        MetadataTemplateSpec("internal", "Internal settings", "admin", True, _INTERNAL),
        MetadataTemplateSpec(
            "asset_content_configuration", "Asset content configuration", "extra", False, _ASSET_CONTENT
        ),
        MetadataTemplateSpec("dcat", "DCAT", "interop", False, _DCAT),
        MetadataTemplateSpec("dcat_ap", "DCAT-AP", "interop", False, _DCAT_AP),
        MetadataTemplateSpec("inspire", "INSPIRE", "interop", False, _INSPIRE),
        MetadataTemplateSpec("semantic", "Semantic (RDF)", "interop", False, _SEMANTIC),
    )
}

# A field shown in two templates, stored in one: (template, field) -> where it is stored.
ALIASES: dict[tuple[str, str], tuple[str, str]] = {
    ("default", "license_id"): ("internal", "license_id"),
    ("default", "theme_id"): ("internal", "theme_id"),
}
