"""Every public function of ods-utils-py 0.2.6 against datawharf (``plan``: the datasets to use).

The client reads ``ODS_DOMAIN``/``ODS_API_KEY``/``ODS_API_TYPE`` at import and builds
``https://<domain>/api/<type>``. Its retry decorator waits 5 s between six tries of a failed request: the
driver gives it a clock that does not sleep (the tries still happen), so a refused call costs no 25 s.
"""

from __future__ import annotations

import types

import ods_utils_py as ods
from calls import Calls
from ods_utils_py import _requests_utils

_requests_utils.time = types.SimpleNamespace(sleep=lambda _seconds: None)  # type: ignore[attr-defined]

calls = Calls()
plan = calls.plan
cities, scratch = plan["cities"], plan["scratch"]

calls.run("get_number_of_datasets", ods.get_number_of_datasets)
calls.run("get_all_dataset_ids", lambda: ods.get_all_dataset_ids(cooldown=0))
calls.run("get_all_dataset_ids_public", lambda: ods.get_all_dataset_ids(include_restricted=False, cooldown=0))
calls.run("get_all_dataset_ids_max", lambda: ods.get_all_dataset_ids(max_datasets=1, cooldown=0))
calls.run("get_uid_by_id", lambda: ods.get_uid_by_id(cities["dataset_id"]))
calls.run("get_dataset_title", lambda: ods.get_dataset_title(dataset_id=cities["dataset_id"]))
calls.run("get_dataset_metadata", lambda: ods.get_dataset_metadata(dataset_uid=cities["uid"]))
calls.run("get_dataset_license", lambda: ods.get_dataset_license(dataset_uid=cities["uid"]))
calls.run("get_dataset_custom_view", lambda: ods.get_dataset_custom_view(dataset_uid=cities["uid"]))
calls.run("get_template_metadata", lambda: ods.get_template_metadata("default", dataset_uid=cities["uid"]))
calls.run(
    "get_template_metadata_field",
    lambda: ods.get_template_metadata("default", "title", dataset_id=cities["dataset_id"]),
)
calls.run("requests_get", lambda: ods.requests_get(f"{ods._config.get_base_url()}/datasets/").json())

# Writes, on the scratch dataset; each read back through the client's own getters.
calls.run(
    "set_template_metadata",
    lambda: ods.set_template_metadata(
        "default", {"value": "Renamed by ods-utils"}, "title", dataset_uid=scratch["uid"], publish=False
    ),
)
calls.run("get_dataset_title_after_set", lambda: ods.get_dataset_title(dataset_uid=scratch["uid"]))
calls.run(
    "set_dataset_license", lambda: ods.set_dataset_license("cc_by", dataset_uid=scratch["uid"], publish=False)
)
calls.run("get_dataset_license_after_set", lambda: ods.get_dataset_license(dataset_uid=scratch["uid"]))
calls.run(
    "set_dataset_metadata_temporal_period",
    lambda: ods.set_dataset_metadata_temporal_period("2020/2024", dataset_uid=scratch["uid"], publish=False),
)
calls.run(
    "get_dataset_metadata_temporal_period",
    lambda: ods.get_dataset_metadata_temporal_period(dataset_uid=scratch["uid"]),
)
calls.run(
    "set_dataset_metadata_temporal_coverage_start_date",
    lambda: ods.set_dataset_metadata_temporal_coverage_start_date(
        "2020-01-01", dataset_uid=scratch["uid"], publish=False
    ),
)
calls.run(
    "set_dataset_metadata_temporal_coverage_end_date",
    lambda: ods.set_dataset_metadata_temporal_coverage_end_date(
        "2024-12-31", dataset_uid=scratch["uid"], publish=False
    ),
)
calls.run("get_dataset_metadata_after_dates", lambda: ods.get_dataset_metadata(dataset_uid=scratch["uid"]))
calls.run("set_dataset_public", lambda: ods.set_dataset_public(dataset_uid=scratch["uid"]))
calls.write()
