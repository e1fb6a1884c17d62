"""Every public function of huwise-utils-py 1.5.1 against datawharf (``plan``: the datasets to use).

The client (Python >= 3.12) reads ``HUWISE_API_KEY``/``HUWISE_DOMAIN`` and builds
``https://<domain>/api/automation/v1.0``. Its function API wraps ``HuwiseDataset``; both are called, the
getters on the published cities dataset, the setters on a scratch dataset (read back by the getters).
"""

from __future__ import annotations

import asyncio

import huwise_utils_py as hw
from calls import Calls

calls = Calls()
plan = calls.plan
cities, scratch, bikes = plan["cities"], plan["scratch"], plan["bikes"]
uid = cities["uid"]

# Listing and resolving.
calls.run("get_number_of_datasets", hw.get_number_of_datasets)
calls.run("get_all_dataset_ids", hw.get_all_dataset_ids)
calls.run("get_all_dataset_ids_max", lambda: hw.get_all_dataset_ids(max_datasets=2))
calls.run("bulk_get_dataset_ids", lambda: hw.bulk_get_dataset_ids(include_restricted=False))
calls.run("bulk_get_dataset_ids_async", lambda: asyncio.run(hw.bulk_get_dataset_ids_async()))
calls.run("get_uid_by_id", lambda: hw.get_uid_by_id(cities["dataset_id"]))
calls.run("from_id", lambda: hw.HuwiseDataset.from_id(cities["dataset_id"]).uid)
calls.run("get_dataset_metadata", lambda: hw.get_dataset_metadata(dataset_id=cities["dataset_id"]))
calls.run("get_template_metadata", lambda: hw.get_template_metadata("default", dataset_uid=uid))
calls.run(
    "get_dataset_metadata_temporal_period", lambda: hw.get_dataset_metadata_temporal_period(dataset_uid=uid)
)
calls.run(
    "bulk_get_metadata", lambda: hw.bulk_get_metadata(dataset_ids=[cities["dataset_id"], bikes["dataset_id"]])
)
calls.run("bulk_get_metadata_async", lambda: asyncio.run(hw.bulk_get_metadata_async(dataset_uids=[uid])))

# One getter a metadata field (each reads GET /datasets/{uid}/metadata/{template}/).
GETTERS = [
    "title",
    "description",
    "keywords",
    "language",
    "publisher",
    "theme",
    "license",
    "custom_view",
    "dcat_ap_ch_rights",
    "dcat_ap_ch_license",
    "created",
    "issued",
    "creator",
    "contributor",
    "contact_name",
    "contact_email",
    "accrualperiodicity",
    "relation",
    "modified",
    "geographic_reference",
    "tags",
]
for name in GETTERS:
    getter = getattr(hw, f"get_dataset_{name}")
    calls.run(f"get_dataset_{name}", lambda getter=getter: getter(dataset_uid=uid))
calls.run("get_dataset_custom_field", lambda: hw.get_dataset_custom_field("unit", dataset_uid=uid))

# Fields and resources.
calls.run("list_dataset_field_configurations", lambda: hw.list_dataset_field_configurations(dataset_uid=uid))
calls.run("list_dataset_resources", lambda: hw.list_dataset_resources(dataset_uid=uid))

# Writes, on the scratch dataset.
target = scratch["uid"]
SETTERS = {
    "title": "Renamed by huwise",
    "description": "Set by huwise-utils-py",
    "keywords": ["huwise", "scratch"],
    "language": "fr",
    "publisher": "Test office",
    "theme": "transport",
    "license": "5sylls5",
    "dcat_ap_ch_rights": "NonCommercialAllowed-CommercialAllowed-ReferenceRequired",
    "dcat_ap_ch_license": "terms_by",
    "created": "2020-01-02T00:00:00Z",
    "issued": "2021-03-04T00:00:00Z",
    "creator": "Creator team",
    "contributor": "Contributor team",
    "contact_name": "Ada",
    "contact_email": "ada@example.org",
    "accrualperiodicity": "http://publications.europa.eu/resource/authority/frequency/DAILY",
    "relation": "https://example.org/related",
    "geographic_reference": ["ch_40_12"],
    "tags": ["one", "two"],
}
for name, value in SETTERS.items():
    setter = getattr(hw, f"set_dataset_{name}")
    calls.run(
        f"set_dataset_{name}",
        lambda setter=setter, value=value: setter(value, dataset_uid=target, publish=False),
    )
    calls.run(
        f"get_after_set_{name}", lambda name=name: getattr(hw, f"get_dataset_{name}")(dataset_uid=target)
    )
calls.run(
    "set_dataset_custom_field",
    lambda: hw.set_dataset_custom_field("unit", "km", dataset_uid=target, publish=False),
)
calls.run(
    "set_dataset_modified",
    lambda: hw.set_dataset_modified("2024-05-06T07:08:09Z", dataset_uid=target, publish=False),
)
calls.run(
    "set_dataset_metadata_temporal_period",
    lambda: hw.set_dataset_metadata_temporal_period(
        "2020-01-01", "2024-12-31", dataset_uid=target, publish=False
    ),
)
calls.run(
    "set_template_metadata",
    lambda: hw.set_template_metadata(
        "default", "title", "Set through the template", dataset_uid=target, publish=False
    ),
)
calls.run("get_after_set_template", lambda: hw.get_dataset_metadata(dataset_uid=target))
calls.run(
    "chained_setters",
    lambda: (
        hw.HuwiseDataset(uid=target)
        .set_title("Chained", publish=False)
        .set_description("Both", publish=False)
        .uid
    ),
)
calls.run(
    "bulk_update_metadata",
    lambda: hw.bulk_update_metadata([{"dataset_uid": target, "title": "Bulk title"}], publish=False),
)
rename = {
    "type": "rename",
    "label": "rename city",
    "from_name": "city",
    "to_name": "town",
    "field_label": "Town",
}
created = calls.run(
    "append_dataset_field_configuration",
    lambda: hw.append_dataset_field_configuration(rename, dataset_uid=target),
)
if created:
    calls.run(
        "get_dataset_field_configuration",
        lambda: hw.get_dataset_field_configuration(created["uid"], dataset_uid=target),
    )
    calls.run(
        "update_dataset_field_configuration",
        lambda: hw.update_dataset_field_configuration(
            created["uid"],
            {**rename, "to_name": "municipality", "field_label": "Municipality"},
            dataset_uid=target,
        ),
    )
    calls.run("fields_after_update", lambda: hw.list_dataset_field_configurations(dataset_uid=target))
    calls.run(
        "delete_dataset_field_configuration",
        lambda: hw.delete_dataset_field_configuration(created["uid"], dataset_uid=target),
    )
    calls.run("fields_after_delete", lambda: hw.list_dataset_field_configurations(dataset_uid=target))
calls.run(
    "upsert_dataset_resource_http",
    lambda: hw.upsert_dataset_resource_http(dataset_uid=target, source_url="https://example.org/data.csv"),
)
calls.run(
    "update_dataset_configuration",
    lambda: hw.update_dataset_configuration(is_restricted=True, target_dataset_uid=target),
)
http = hw.HttpClient(hw.HuwiseConfig.from_env())
calls.run("refresh", lambda: hw.HuwiseDataset(uid=target).refresh().uid)
calls.run("configuration_after_update", lambda: http.get(f"/datasets/{target}/").json())
calls.run("set_dataset_public", lambda: hw.set_dataset_public(dataset_uid=target))
calls.run("wait_for_idle_after_publish", lambda: hw.HuwiseDataset(uid=target)._wait_for_idle())
calls.run("status_after_publish", lambda: http.get(f"/datasets/{target}/status").json())
calls.run("unpublish", lambda: hw.set_dataset_public(dataset_uid=target, should_be_public=False))
calls.run("wait_for_idle_after_unpublish", lambda: hw.HuwiseDataset(uid=target)._wait_for_idle())
calls.run("status_after_unpublish", lambda: http.get(f"/datasets/{target}/status").json())
created_uid = calls.run(
    "create_dataset", lambda: hw.create_dataset(title="Made by huwise", dataset_id="made-by-huwise").uid
)
if created_uid:
    calls.run("delete_dataset", lambda: hw.delete_dataset(dataset_uid=created_uid))
calls.write()
