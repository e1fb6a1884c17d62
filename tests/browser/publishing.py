"""Published datasets for the browser journeys, made with the management API of the journey's
``datawharf serve`` from a CSV put in the moto bucket (the wizard has its own journey)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from tests.browser.conftest import Backoffice

RUNNING = ("queued", "processing", "saving_version")


@dataclass(frozen=True)
class Published:
    uid: str
    dataset_id: str
    bucket: str
    status: dict[str, Any]


def automation(backoffice: Backoffice) -> httpx.Client:
    return httpx.Client(
        base_url=backoffice.base_url + "/api/automation/v1.0",
        headers={"Authorization": f"apikey {backoffice.api_key}"},
        timeout=60,
    )


def publish_csv(
    backoffice: Backoffice,
    body: str,
    *,
    title: str,
    separator: str = ",",
    restricted: bool = False,
    configurations: Sequence[dict[str, Any]] = (),
) -> Published:
    """A dataset of one CSV source, its field configurations saved, published; waits for the run."""
    bucket = backoffice.moto.create_bucket()
    backoffice.moto.put_object(bucket, "data.csv", body.encode())
    with automation(backoffice) as api:
        connection = {
            "type": "amazon_s3",
            "title": f"{title} in {bucket}",
            "url": f"{backoffice.moto.endpoint_url}/{bucket}/",
            "auth": {
                "type": "aws_signature_v4",
                "access_key_id": "AKIABROWSER",
                "secret_access_key": "browser-secret",
                "region": "us-east-1",
            },
        }
        connection_uid = api.post("/datasource_connections/", json=connection).json()["uid"]
        dataset = api.post(
            "/datasets/",
            json={"metadata": {"default": {"title": {"value": title}}}, "is_restricted": restricted},
        ).json()
        uid = dataset["uid"]
        resource = {
            "type": "csvfile",
            "title": "data.csv",
            "params": {"separator": separator},
            "datasource": {"type": "amazon_s3", "url": "data.csv", "connection": {"uid": connection_uid}},
        }
        assert api.post(f"/datasets/{uid}/resources/", json=resource).status_code == 201
        for configuration in configurations:
            assert api.post(f"/datasets/{uid}/fields/", json=configuration).status_code == 201
        assert api.post(f"/datasets/{uid}/publish/").status_code == 200
        deadline = time.monotonic() + 60
        status = api.get(f"/datasets/{uid}/status/").json()
        while status["status"] in RUNNING:
            assert time.monotonic() < deadline, "publish did not finish"
            time.sleep(0.2)
            status = api.get(f"/datasets/{uid}/status/").json()
        assert (status["status"], status["is_published"]) == ("idle", True), status["message"]
    return Published(uid, dataset["dataset_id"], bucket, status)
