"""Every 2xx answer of the management API in the reference's shapes (Automation API v1.0).

Every API test already checks what it receives (tests/support/reference.py, installed on the test
clients); this file makes sure every operation datawharf implements is received once, that the checker
really refuses what the reference refuses, and that ``/openapi.json`` declares the real shapes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from datawharf.api.app import create_app
from datawharf.harvest import control as harvest_control
from datawharf.settings import Settings
from tests.support import reference
from tests.support.app import make_app_client, make_settings
from tests.support.explore import publish_csv, wait_idle
from tests.support.moto import MotoServer, S3Bucket

API = "/api/automation/v1.0"
CSV = b"id;name;when\n1;alpha;2024-01-02T03:04:05Z\n2;beta;2024-02-03T04:05:06Z\n"


def implemented_operations() -> set[tuple[str, str]]:
    """The reference operations datawharf routes, whose 2xx answer the reference gives a JSON schema."""
    found = set()
    for path, item in create_app(Settings()).openapi()["paths"].items():
        for method, operation in item.items():
            ref = reference.find_operation(method, path)
            if ref is None:
                continue
            codes = [code for code in operation["responses"] if code.startswith("2")]
            if any(reference.response_schema(ref, int(code)) for code in codes):
                found.add((ref.method, ref.template))
    return found


@pytest.fixture
def client(tmp_path: Path, moto_server: MotoServer) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, allowed_private_hosts=[moto_server.host_port])
    with make_app_client(settings) as client:
        yield client


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if status != 204 else None


def test_every_operation_datawharf_implements_answers_in_the_reference_shape(
    client: TestClient, s3_bucket: S3Bucket
) -> None:
    reference.CHECKED.clear()
    # API keys
    key = _ok(client.post(f"{API}/apikeys/", json={"label": "reader"}), 201)
    assert "key" in key and "revocation_reason" not in key["revocation_status"]
    _ok(client.get(f"{API}/apikeys/"))
    _ok(client.get(f"{API}/apikeys/{key['uid']}/"))
    _ok(client.post(f"{API}/apikeys/{key['uid']}/revoke/", json={"revocation_reason": "done"}))
    # A published dataset, with its connection and resource
    dataset = publish_csv(client, s3_bucket.server, s3_bucket.name, "c.csv", CSV, "Conformance")
    uid = dataset["uid"]
    connections = _ok(client.get(f"{API}/datasource_connections/"))
    connection = connections["results"][0]
    _ok(client.get(f"{API}/datasource_connections/{connection['uid']}/"))
    _ok(
        client.put(
            f"{API}/datasource_connections/{connection['uid']}/",
            json={**connection, "auth": {**connection["auth"], "secret_access_key": None}},
        )
    )
    # Datasets
    _ok(client.get(f"{API}/datasets/"))
    shown = _ok(client.get(f"{API}/datasets/{uid}/"))
    assert shown["metadata"]["default"]["keyword"] == {"value": ["test", "explore"]}
    _ok(client.put(f"{API}/datasets/{uid}/", json={"is_restricted": False}))
    _ok(client.get(f"{API}/datasets/{uid}/status/"))
    _ok(client.get(f"{API}/extractors/"))
    # Metadata, and its templates
    meta = f"{API}/datasets/{uid}/metadata"
    whole = _ok(client.get(f"{meta}/"))
    _ok(client.put(f"{meta}/", json={**whole, "dcat": {"creator": {"value": "Team"}}}))
    default = _ok(client.get(f"{meta}/default/"))
    _ok(client.put(f"{meta}/default/", json={**default, "publisher": {"value": "Town"}}))
    _ok(client.put(f"{meta}/internal/license_id/", json={"value": "odbl"}))
    assert _ok(client.get(f"{meta}/internal/license_id/")) == {"value": "odbl"}
    _ok(client.delete(f"{meta}/internal/license_id/"), 204)
    _ok(client.post(f"{API}/datasets/{uid}/publish_metadata/"))
    _ok(client.get(f"{API}/metadata/templates/"))
    _ok(client.get(f"{API}/metadata/templates/dcat/"))
    _ok(client.get(f"{API}/metadata/templates/dcat/fields/"))
    _ok(client.get(f"{API}/metadata/templates/dcat/fields/creator/"))
    # Resources, saved and unsaved
    resources = _ok(client.get(f"{API}/datasets/{uid}/resources/"))
    resource = resources["results"][0]
    base = f"{API}/datasets/{uid}/resources"
    _ok(client.get(f"{base}/{resource['uid']}/"))
    _ok(client.get(f"{base}/{resource['uid']}/preview/"))
    _ok(client.get(f"{base}/{resource['uid']}/guess_extractors/"))
    _ok(client.get(f"{base}/{resource['uid']}/guess_extractors_params/"))
    datasource = resource["datasource"]
    _ok(client.put(f"{base}/{resource['uid']}/", json={**resource, "title": "renamed"}))
    _ok(client.post(f"{base}/guess_extractors/", json={"datasource": datasource}))
    _ok(client.post(f"{base}/guess_extractor_params/", json={"datasource": datasource, "type": "csvfile"}))
    _ok(client.post(f"{base}/preview/", json={"datasource": datasource, "type": "csvfile"}))
    # Field configurations
    fields = f"{API}/datasets/{uid}/fields"
    described = _ok(
        client.post(fields + "/", json={"type": "description", "field": "name", "description": "A name"}),
        201,
    )
    _ok(client.get(fields + "/"))
    _ok(client.get(f"{fields}/{described['uid']}/"))
    _ok(
        client.put(
            f"{fields}/{described['uid']}/",
            json={"type": "annotate", "label": "unit", "field": "id", "annotation": "unit", "args": ["km"]},
        )
    )
    # Schedules
    schedule = _ok(client.post(f"{API}/datasets/{uid}/schedules/", json={"cron_schedule": "0 3 * * *"}), 201)
    _ok(client.get(f"{API}/datasets/{uid}/schedules/"))
    _ok(client.get(f"{API}/datasets/{uid}/schedules/{schedule['uid']}/"))
    _ok(client.put(f"{API}/datasets/{uid}/schedules/{schedule['uid']}/", json={"cron_schedule": "0 4 * * *"}))
    # Harvesters (an empty prefix: the pass "start" runs finds nothing to make)
    harvester = _ok(
        client.post(
            f"{API}/harvesters/",
            json={
                "type": "amazon_s3",
                "name": "Conformance",
                "url": s3_bucket.url("harvested/"),
                "connection": {"uid": connection["uid"]},
            },
        ),
        201,
    )
    _ok(client.get(f"{API}/harvesters/"))
    _ok(client.get(f"{API}/harvesters/{harvester['uid']}/"))
    _ok(client.put(f"{API}/harvesters/{harvester['uid']}/", json={"name": "Renamed", "mode": "folder"}))
    _ok(client.post(f"{API}/harvesters/{harvester['uid']}/start/"))
    _ok(client.get(f"{API}/harvesters/{harvester['uid']}/errors/"))
    _ok(client.get(f"{API}/harvesters/{harvester['uid']}/preview/"))
    _ok(client.post(f"{API}/harvesters/{harvester['uid']}/unsaved_preview/", json={"mode": "object"}))
    _ok(client.post(f"{API}/harvesters/{harvester['uid']}/publish/"))
    _ok(client.post(f"{API}/harvesters/{harvester['uid']}/unpublish/"))
    with client.app.state.database.session() as session:  # type: ignore[attr-defined]
        harvest_control.request_pass(session, harvester["uid"])  # queued, no worker: abort answers 200
    _ok(client.post(f"{API}/harvesters/{harvester['uid']}/abort/"))
    schedules = f"{API}/harvesters/{harvester['uid']}/schedules/"
    schedule = _ok(
        client.post(schedules, json={"cron_schedule": "30 1 * * *", "timezone": "Europe/Berlin"}), 201
    )
    _ok(client.get(schedules))
    _ok(client.get(f"{schedules}{schedule['uid']}/"))
    _ok(client.put(f"{schedules}{schedule['uid']}/", json={"cron_schedule": "0 3 * * *", "timezone": "UTC"}))
    _ok(client.delete(f"{schedules}{schedule['uid']}/"), 204)
    # Versions: a second publish, then restore the first
    _ok(client.post(f"{API}/datasets/{uid}/publish/"))
    wait_idle(client, uid)
    versions = _ok(client.get(f"{API}/datasets/{uid}/versions/"))["results"]
    assert len(versions) == 2 and all("created_by" not in version for version in versions)
    oldest = min(versions, key=lambda version: version["created_at"])
    _ok(client.get(f"{API}/datasets/{uid}/versions/{oldest['uid']}/"))
    _ok(client.post(f"{API}/datasets/{uid}/versions/{oldest['uid']}/restore/"))
    wait_idle(client, uid)
    # The actions answering the reference OK
    _ok(client.post(f"{API}/datasets/{uid}/unpublish/"))
    wait_idle(client, uid)
    _ok(client.post(f"{API}/datasets/{uid}/publish/"))
    _ok(client.post(f"{API}/datasets/{uid}/abort/"))
    wait_idle(client, uid)

    missing = implemented_operations() - reference.CHECKED
    assert missing == set(), f"operations never received by this test: {sorted(missing)}"


def test_routes_find_their_reference_operation() -> None:
    """The coverage above is only as good as the matching of routes to operations: fixed segments win
    over parameters, a missing trailing slash still matches, datawharf's own routes match nothing."""
    base = f"{API}/datasets/da_x/resources"
    assert reference.find_operation("POST", f"{base}/preview/").template.endswith("/resources/preview/")
    assert reference.find_operation("GET", f"{base}/re_x/preview").template.endswith(
        "/{resource_uid}/preview/"
    )
    assert reference.find_operation("POST", f"{base}/guess_extractors/").template.endswith(
        "/guess_extractors/"
    )
    assert reference.find_operation("POST", f"{API}/datasource_connections/co_x/validate/") is None
    assert reference.find_operation("GET", "/api/explore/v2.1/catalog/datasets/") is None
    assert len(implemented_operations()) >= 38


def test_the_checker_refuses_what_the_reference_refuses() -> None:
    """Without a zone, null where a string is declared, a required property missing, a discriminated
    variant's rule broken: each is a violation (the checker is not a rubber stamp)."""
    path = f"{API}/apikeys/ak_x/"
    good = {"uid": "ak_x", "created_at": "2024-01-01T00:00:00Z", "revocation_status": {"revoked_at": None}}
    assert reference.check_response("GET", path, 200, good) is not None
    for bad in (
        {**good, "created_at": "2024-01-01T00:00:00"},
        {**good, "key": None},
        {**good, "revocation_status": {"revoked_at": None, "revocation_reason": None}},
    ):
        with pytest.raises(reference.ReferenceViolation):
            reference.check_response("GET", path, 200, bad)
    with pytest.raises(reference.ReferenceViolation, match="'language' is a required property"):
        metadata = {"default": {"title": {"value": "t"}, "modified": {"value": "2024-01-01T00:00:00Z"}}}
        reference.check_response("GET", f"{API}/datasets/da_x/", 200, {"metadata": metadata})
    sigv4_without_secret = {"type": "amazon_s3", "url": "u", "auth": {"type": "aws_signature_v4"}}
    with pytest.raises(reference.ReferenceViolation, match="secret_access_key"):
        reference.check_response("GET", f"{API}/datasource_connections/co_x/", 200, sigv4_without_secret)
    # Answers outside the management API, or not 2xx, are not the reference's business.
    assert reference.check_response("GET", "/api/explore/v2.1/catalog/datasets", 200, {}) is None
    assert reference.check_response("GET", path, 404, {"error_code": "x"}) is None


def test_every_slip_names_a_place_in_the_reference_and_says_why() -> None:
    reference.reference()  # applying a slip that names nothing raises
    assert all(len(slip.reason) > 40 for slip in reference.SLIPS)


def test_openapi_declares_every_management_answer() -> None:
    """Every route has a response model: ``/openapi.json`` shows the real shapes, not a bare object."""
    undeclared = []
    for path, item in create_app(Settings()).openapi()["paths"].items():
        if not path.startswith(API):
            continue
        for method, operation in item.items():
            for code, response in operation["responses"].items():
                if not code.startswith("2") or code == "204":
                    continue
                schema = response.get("content", {}).get("application/json", {}).get("schema", {})
                if "$ref" not in str(schema):
                    undeclared.append(f"{method.upper()} {path} {code}: {schema}")
    assert undeclared == []


def test_default_language_comes_from_the_setting_and_a_given_one_is_checked(tmp_path: Path) -> None:
    with make_app_client(make_settings(tmp_path, default_language="fr")) as client:
        created = _ok(client.post(f"{API}/datasets/", json={"metadata": {}}), 201)
        default = created["metadata"]["default"]
        assert default["language"] == {"value": "fr"}
        assert default["title"] == {"value": created["dataset_id"]}
        given = {"default": {"language": {"value": "de"}, "description": {"value": "  "}}}
        german = _ok(client.post(f"{API}/datasets/", json={"metadata": given}), 201)
        assert german["metadata"]["default"]["language"] == {"value": "de"}
        assert "description" not in german["metadata"]["default"]  # a blank box is unset
        wrong = client.post(f"{API}/datasets/", json={"metadata": {"default": {"language": {"value": "xx"}}}})
        assert wrong.status_code == 400
        assert wrong.json()["error_code"] == "invalid_metadata"
        assert "en, fr" in wrong.json()["message"]


def test_a_rename_needs_its_field_label_as_the_reference_requires(app_client: TestClient) -> None:
    uid = _ok(app_client.post(f"{API}/datasets/", json={"metadata": {}}), 201)["uid"]
    rename = {"type": "rename", "label": "r", "from_name": "a", "to_name": "b"}
    for wrong in (rename, {**rename, "field_label": " "}):
        refused = app_client.post(f"{API}/datasets/{uid}/fields/", json=wrong)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error_code"] == "invalid_field_configuration"
        assert "field_label" in refused.json()["message"]
    created = _ok(app_client.post(f"{API}/datasets/{uid}/fields/", json={**rename, "field_label": "B"}), 201)
    assert created["field_label"] == "B" and "field" not in created  # other variants' properties absent


def test_an_offset_past_what_a_database_counts_is_refused_not_a_500(app_client: TestClient) -> None:
    """Found by schemathesis: an offset beyond a BIGINT made SQLite raise (a 500)."""
    assert _ok(app_client.get(f"{API}/apikeys/?offset={2**63 - 1}"))["results"] == []
    refused = app_client.get(f"{API}/apikeys/?offset={2**63}")
    assert refused.status_code == 400, refused.text
    assert refused.json()["error_code"] == "validation_error"


def test_metadata_of_the_references_templates_is_checked_against_its_types(app_client: TestClient) -> None:
    """What is stored is answered later: a value the reference's template types refuse is refused now."""
    for template, name, value, why in (
        ("default", "timezone", 5, "must be a string"),
        ("default", "attributions", "ODbL", "must be a list of non-empty strings"),
        ("default", "geographic_reference_auto", "yes", "must be a boolean"),
        ("internal", "draft", "no", "must be a boolean"),
        ("internal", "theme_id", [""], "must be a list of non-empty strings"),
    ):
        refused = app_client.post(f"{API}/datasets/", json={"metadata": {template: {name: {"value": value}}}})
        assert refused.status_code == 400, (name, refused.text)
        assert refused.json()["error_code"] == "invalid_metadata"
        assert refused.json()["detail"] == {f"metadata.{template}.{name}.value": [why]}
    given = {
        "default": {"timezone": {"value": "Europe/Paris"}, "publisher": {"value": " "}},
        "internal": {"draft": {"value": False}, "theme_id": {"value": ["env"]}},
    }
    # A template datawharf does not have (no custom template can be configured) is refused by name.
    custom = app_client.post(f"{API}/datasets/", json={"metadata": {**given, "custom": {"a": {"value": 1}}}})
    assert custom.status_code == 400
    assert custom.json()["error_code"] == "unknown_metadata_template"
    created = _ok(app_client.post(f"{API}/datasets/", json={"metadata": given}), 201)["metadata"]
    assert created["default"]["timezone"] == {"value": "Europe/Paris"}
    assert "publisher" not in created["default"]
    assert created["internal"] == {"draft": {"value": False}, "theme_id": {"value": ["env"]}}
