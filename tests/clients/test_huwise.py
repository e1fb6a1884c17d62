"""huwise-utils-py 1.5.1 (an Automation API v1.0 wrapper, https only, Python >= 3.12) against
``datawharf serve``: its function API, ``HuwiseDataset`` and the bulk helpers; reads compared with the
published datasets, writes read back through the client and the management API.

huwise-utils-py was written for one portal (data.bs.ch): its ``dcat_ap_ch`` and ``custom`` templates and
``default.tags`` are that portal's own configuration, not the reference's, so datawharf refuses them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.clients.conftest import Outcomes, Portal, management_get, python_has
from tests.support.app import BOOTSTRAP_KEY

pytestmark = pytest.mark.slow
METADATA = "metadata: GET/PUT /datasets/{uid}/metadata/[{template}/[{field}/]] and the dcat template"
DEFAULT_GETTERS = {  # getter -> field of the default template
    "title": "title",
    "description": "description",
    "keywords": "keyword",
    "language": "language",
    "publisher": "publisher",
    "modified": "modified",
    "geographic_reference": "geographic_reference",
}
DCAT_GETTERS = ["created", "issued", "creator", "contributor", "contact_name", "contact_email"]
DCAT_GETTERS += ["accrualperiodicity", "relation"]
DEFAULT_WRITES = {
    "title": "Renamed by huwise",
    "description": "Set by huwise-utils-py",
    "keywords": ["huwise", "scratch"],
    "language": "fr",
    "publisher": "Test office",
    "geographic_reference": ["ch_40_12"],
}
DCAT_WRITES = {
    "created": "2020-01-02T00:00:00Z",
    "issued": "2021-03-04T00:00:00Z",
    "creator": "Creator team",
    "contributor": "Contributor team",
    "contact_name": "Ada",
    "contact_email": "ada@example.org",
    "accrualperiodicity": "http://publications.europa.eu/resource/authority/frequency/DAILY",
    "relation": "https://example.org/related",
}


@pytest.fixture(scope="module")
def scratch(installed_clients: None, scratch_dataset: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    if not python_has("huwise_utils_py"):
        pytest.skip(
            "huwise-utils-py needs a Python >= 3.12: scripts/install-clients found none on this machine"
        )
    return scratch_dataset("huwise scratch")


@pytest.fixture(scope="module")
def outcomes(run_driver: Callable[..., Outcomes], portal: Portal, scratch: dict[str, Any]) -> Outcomes:
    plan = {"cities": portal.cities, "bikes": portal.bikes, "scratch": scratch}
    return run_driver(
        "drivers/huwise_driver.py", plan, {"HUWISE_API_KEY": BOOTSTRAP_KEY, "HUWISE_DOMAIN": portal.host}
    )


def metadata_of(portal: Portal, uid: str) -> dict[str, Any]:
    metadata: dict[str, Any] = management_get(portal, f"/datasets/{uid}/")["metadata"]
    return metadata


def test_lists_and_resolves_the_datasets(outcomes: Outcomes, portal: Portal, scratch: dict[str, Any]) -> None:
    listed = management_get(portal, "/datasets/?limit=100")["results"]
    expected = sorted(dataset["dataset_id"] for dataset in listed)
    assert outcomes.value("get_number_of_datasets") == len(expected)
    for name in ("get_all_dataset_ids", "bulk_get_dataset_ids_async"):
        assert outcomes.value(name) == expected, name
    public = sorted(dataset["dataset_id"] for dataset in listed if not dataset["is_restricted"])
    assert scratch["dataset_id"] not in public
    assert outcomes.value("bulk_get_dataset_ids") == public  # include_restricted=False
    assert outcomes.value("get_all_dataset_ids_max") == sorted(d["dataset_id"] for d in listed[:2])
    assert outcomes.value("get_uid_by_id") == outcomes.value("from_id") == portal.cities["uid"]


def test_reads_the_metadata_whole_and_in_bulk(outcomes: Outcomes, portal: Portal) -> None:
    cities, bikes = metadata_of(portal, portal.cities["uid"]), metadata_of(portal, portal.bikes["uid"])
    assert outcomes.value("get_dataset_metadata") == cities
    assert cities["default"]["title"]["value"] == "Cities of France"
    assert outcomes.value("get_template_metadata") == cities["default"]
    assert outcomes.value("bulk_get_metadata") == {
        portal.cities["dataset_id"]: cities,
        portal.bikes["dataset_id"]: bikes,
    }
    assert outcomes.value("bulk_get_metadata_async") == {portal.cities["uid"]: cities}
    assert outcomes.value("get_dataset_metadata_temporal_period") == {"start_date": None, "end_date": None}


def test_reads_each_field_of_the_default_template(outcomes: Outcomes, portal: Portal) -> None:
    default = metadata_of(portal, portal.cities["uid"])["default"]
    for getter, field in DEFAULT_GETTERS.items():
        assert outcomes.value(f"get_dataset_{getter}") == default.get(field, {}).get("value"), getter
    assert outcomes.value("get_dataset_title") == "Cities of France"
    assert outcomes.value("get_dataset_keywords") == ["cities", "explore"]
    assert outcomes.value("get_dataset_tags") == []  # no default.tags here: the getter's empty answer


def test_reads_the_internal_visualization_and_dcat_templates(outcomes: Outcomes, portal: Portal) -> None:
    metadata = metadata_of(portal, portal.cities["uid"])
    license_id = metadata.get("internal", {}).get("license_id", {}).get("value")
    assert outcomes.value("get_dataset_license") == (license_id or "none_specified")  # the client's "unset"
    assert outcomes.value("get_dataset_theme") is None  # huwise reads default.theme_id, not a default field
    assert outcomes.value("get_dataset_custom_view") is None  # visualization has no custom_view field
    dcat = metadata.get("dcat", {})
    for getter in DCAT_GETTERS:
        assert outcomes.value(f"get_dataset_{getter}") == dcat.get(getter, {}).get("value"), getter


def test_a_portals_own_templates_are_refused_with_a_404(outcomes: Outcomes) -> None:
    """``dcat_ap_ch`` and ``custom`` are data.bs.ch's configuration: no such template here."""
    for name in (
        "get_dataset_dcat_ap_ch_rights",
        "get_dataset_dcat_ap_ch_license",
        "get_dataset_custom_field",
    ):
        assert outcomes.raw[name]["error"].startswith("HuwiseAutomationError: 404 Not Found"), name
    for name in (
        "set_dataset_dcat_ap_ch_rights",
        "set_dataset_dcat_ap_ch_license",
        "set_dataset_custom_field",
    ):
        assert outcomes.raw[name]["error"].startswith("HuwiseAutomationError: 4"), name


def test_sets_each_field_of_the_default_template(
    outcomes: Outcomes, portal: Portal, scratch: dict[str, Any]
) -> None:
    for name, value in DEFAULT_WRITES.items():
        outcomes.value(f"set_dataset_{name}")
        assert outcomes.value(f"get_after_set_{name}") == value, name
    outcomes.value("set_dataset_modified")
    outcomes.value("set_template_metadata")
    assert outcomes.value("get_after_set_template")["default"]["title"]["value"] == "Set through the template"
    outcomes.value("chained_setters")
    assert outcomes.value("bulk_update_metadata")[scratch["uid"]]["status"] == "success"
    assert metadata_of(portal, scratch["uid"])["default"]["title"]["value"] == "Bulk title"


def test_sets_the_dcat_fields(outcomes: Outcomes) -> None:
    for name, value in DCAT_WRITES.items():
        outcomes.value(f"set_dataset_{name}")
        assert outcomes.value(f"get_after_set_{name}") == value, name


def test_its_temporal_period_names_no_dcat_field_and_is_refused_saying_which_exist(
    outcomes: Outcomes,
) -> None:
    """huwise writes ``dcat.temporal_coverage_start_date``; the reference's field is
    ``temporal_coverage_start`` (ods-utils-py writes that one, and it works)."""
    error = outcomes.raw["set_dataset_metadata_temporal_period"]["error"]
    assert error.startswith("HuwiseAutomationError: 400 Bad Request")
    assert '"unknown_metadata_field"' in error and '"temporal_coverage_start"' in error


def test_sets_the_license_and_theme(outcomes: Outcomes) -> None:
    outcomes.value("set_dataset_license")
    assert outcomes.value("get_after_set_license") == "5sylls5"
    outcomes.value("set_dataset_theme")


def test_field_configurations_are_listed_added_updated_and_deleted(outcomes: Outcomes) -> None:
    assert outcomes.value("list_dataset_field_configurations") == {
        "total_count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }
    created = outcomes.value("append_dataset_field_configuration")
    assert created["uid"].startswith("pr_") and created["to_name"] == "town"
    assert outcomes.value("get_dataset_field_configuration") == created
    updated = outcomes.value("update_dataset_field_configuration")
    assert (updated["uid"], updated["to_name"], updated["field_label"]) == (
        created["uid"],
        "municipality",
        "Municipality",
    )
    assert outcomes.value("fields_after_update")["results"] == [updated]
    outcomes.value("delete_dataset_field_configuration")
    assert outcomes.value("fields_after_delete")["total_count"] == 0


def test_lists_resources_and_refuses_an_http_source(outcomes: Outcomes, portal: Portal) -> None:
    """datawharf reads S3-compatible stores only: an ``http`` resource is refused with a 400."""
    resources = outcomes.value("list_dataset_resources")
    assert resources == management_get(portal, f"/datasets/{portal.cities['uid']}/resources/")
    assert [resource["title"] for resource in resources["results"]] == ["cities.csv"]
    assert outcomes.raw["upsert_dataset_resource_http"]["error"].startswith(
        "HuwiseAutomationError: 400 Bad Request"
    )


def test_configures_publishes_unpublishes_creates_and_deletes(
    outcomes: Outcomes, portal: Portal, scratch: dict[str, Any]
) -> None:
    assert outcomes.value("refresh") == scratch["uid"]  # a PUT without a body: nothing changes
    outcomes.value("update_dataset_configuration")
    assert outcomes.value("configuration_after_update")["is_restricted"] is True
    outcomes.value("set_dataset_public")
    outcomes.value("wait_for_idle_after_publish")
    published = outcomes.value("status_after_publish")
    assert (published["status"], published["is_published"]) == ("idle", True), published
    outcomes.value("unpublish")
    outcomes.value("wait_for_idle_after_unpublish")
    assert outcomes.value("status_after_unpublish")["is_published"] is False
    created = outcomes.value("create_dataset")
    outcomes.value("delete_dataset")
    with portal.client() as client:
        assert (
            client.get(
                f"/api/automation/v1.0/datasets/{created}/",
                headers={"Authorization": f"apikey {BOOTSTRAP_KEY}"},
            ).status_code
            == 404
        )
