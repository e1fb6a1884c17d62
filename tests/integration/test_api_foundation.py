"""The API skeleton: key auth, the reference error body, pagination, body limits, OpenAPI."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support.app import BOOTSTRAP_KEY

API = "/api/automation/v1.0"


def test_missing_key_is_refused_with_reference_error_body(app_client: TestClient) -> None:
    response = app_client.get(f"{API}/apikeys/", headers={"Authorization": ""})
    assert response.status_code == 401
    body = response.json()
    assert body["error_code"] == "missing_api_key"
    assert "Authorization: apikey" in body["message"]
    assert body["detail"] == {}


def test_unknown_and_malformed_keys_are_refused(app_client: TestClient) -> None:
    unknown = app_client.get(f"{API}/apikeys/", headers={"Authorization": "apikey nope-nope-nope-nope"})
    assert (unknown.status_code, unknown.json()["error_code"]) == (401, "invalid_api_key")
    malformed = app_client.get(f"{API}/apikeys/", headers={"Authorization": "Bearer abc"})
    assert (malformed.status_code, malformed.json()["error_code"]) == (401, "invalid_authorization_header")


def test_key_in_query_parameter_works(app_client: TestClient) -> None:
    response = app_client.get(f"{API}/apikeys/?apikey={BOOTSTRAP_KEY}", headers={"Authorization": ""})
    assert response.status_code == 200


def test_unknown_route_is_a_reference_404(app_client: TestClient) -> None:
    response = app_client.get(f"{API}/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["error_code"] == "not_found"


def test_validation_errors_name_the_fields(app_client: TestClient) -> None:
    response = app_client.post(f"{API}/apikeys/", json={"permissions": "not-a-list"})
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "validation_error"
    assert set(body["detail"]) == {"label", "permissions"}


def test_a_body_that_is_not_json_says_so_and_where(app_client: TestClient) -> None:
    response = app_client.post(
        f"{API}/apikeys/", content=b'{"label": "x",}', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    body = response.json()
    assert (body["error_code"], body["message"]) == ("validation_error", "Invalid input in: body.")
    assert body["detail"]["body"][0].startswith("Not valid JSON at character 14 (")


def test_create_retrieve_revoke_and_revoked_key_stops_working(app_client: TestClient) -> None:
    created = app_client.post(f"{API}/apikeys/", json={"label": "robot", "permissions": ["edit_domain"]})
    assert created.status_code == 201
    key, uid = created.json()["key"], created.json()["uid"]
    assert uid.startswith("ak_") and len(key) == 64
    fetched = app_client.get(f"{API}/apikeys/{uid}/").json()
    assert "key" not in fetched and fetched["is_revoked"] is False
    as_robot = {"Authorization": f"apikey {key}"}
    assert app_client.get(f"{API}/apikeys/", headers=as_robot).status_code == 200
    revoked = app_client.post(f"{API}/apikeys/{uid}/revoke/", json={"revocation_reason": "rotated"})
    assert revoked.json()["revocation_status"]["revocation_reason"] == "rotated"
    assert app_client.get(f"{API}/apikeys/", headers=as_robot).json()["error_code"] == "invalid_api_key"


def test_permission_is_enforced(app_client: TestClient) -> None:
    created = app_client.post(
        f"{API}/apikeys/", json={"label": "reader", "permissions": ["explore_restricted_dataset"]}
    ).json()
    response = app_client.get(f"{API}/apikeys/", headers={"Authorization": f"apikey {created['key']}"})
    assert response.status_code == 403
    assert response.json()["error_code"] == "missing_permission"


def test_unknown_permission_is_refused(app_client: TestClient) -> None:
    response = app_client.post(f"{API}/apikeys/", json={"label": "x", "permissions": ["fly"]})
    assert (response.status_code, response.json()["error_code"]) == (400, "unknown_permission")


def test_pagination_follows_the_reference(app_client: TestClient) -> None:
    for number in range(24):
        app_client.post(f"{API}/apikeys/", json={"label": f"k{number}"})
    first = app_client.get(f"{API}/apikeys/").json()
    assert first["total_count"] == 25 and len(first["results"]) == 20
    assert first["previous"] is None and "offset=20" in first["next"]
    second = app_client.get(first["next"]).json()
    assert len(second["results"]) == 5 and second["next"] is None and "offset=0" in second["previous"]
    count_only = app_client.get(f"{API}/apikeys/?limit=0").json()
    assert count_only["total_count"] == 25 and count_only["results"] == []
    too_many = app_client.get(f"{API}/apikeys/?limit=1001")
    assert (too_many.status_code, too_many.json()["error_code"]) == (400, "validation_error")


def test_request_body_over_the_cap_is_refused(app_client: TestClient) -> None:
    huge = b'{"label": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    response = app_client.post(f"{API}/apikeys/", content=huge, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error_code"] == "request_body_too_large"


def test_openapi_document_is_served(app_client: TestClient) -> None:
    document = app_client.get("/openapi.json").json()
    assert f"{API}/apikeys/" in document["paths"]
    assert document["paths"][f"{API}/apikeys/"]["get"]["operationId"] == "get-apikeys"
    for path in (
        f"{API}/datasource_connections/",
        f"{API}/datasets/{{dataset_uid}}/publish/",
        f"{API}/datasets/{{dataset_uid}}/resources/preview/",
        f"{API}/extractors/",
        "/api/explore/v2.1/catalog/datasets/{dataset_id}/records",
        "/api/explore/v2.1/catalog/datasets/{dataset_id}/exports/{format}",
    ):
        assert path in document["paths"], path
