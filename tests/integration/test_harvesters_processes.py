"""Harvesters with company: two processes making the same pass, or the same scheduling pass, together
(on SQLite and on PostgreSQL), make each dataset once and run a due harvester once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, update

from datawharf.store.models.datasets import Dataset
from datawharf.store.models.harvesters import HarvestedDataset, Harvester
from tests.integration.test_datasets_publish import API, create_connection
from tests.integration.test_several_processes import store_url
from tests.support.app import SHARED_SECRET_KEY, make_app_client, make_settings
from tests.support.moto import S3Bucket
from tests.support.racers import Racers

PARTS = 6


@pytest.mark.parametrize("kind", [pytest.param("postgresql", marks=pytest.mark.postgres), "sqlite"])
def test_two_processes_harvest_together(kind: str, tmp_path: Path, s3_bucket: S3Bucket) -> None:
    for number in range(PARTS):
        s3_bucket.put(f"parts/part-{number}.csv", b"a,b\n1,2\n")
    with store_url(kind, tmp_path) as url:
        settings = make_settings(
            tmp_path / "home",
            database_url=url,
            allowed_private_hosts=[s3_bucket.server.host_port],
            scheduler_interval=3600,  # the app's own scheduler stays out of the race
        )
        with make_app_client(settings) as client:
            made = client.post(
                f"{API}/harvesters/",
                json={
                    "type": "amazon_s3",
                    "name": "Parts",
                    "url": s3_bucket.url("parts/"),
                    "connection": {"uid": create_connection(client, s3_bucket.server)},
                    "extractor_type": "csvfile",
                    "params": {"separator": ","},
                    "cron_schedule": "0 * * * *",
                },
            )
            assert made.status_code == 201, made.text
            uid = made.json()["uid"]
        shared = {
            "home": str(settings.home),
            "settings": {
                "database_url": url,
                "allowed_private_hosts": [s3_bucket.server.host_port],
                # On SQLite the home's own key file, as the app had it; PostgreSQL needs the shared one.
                **({"secret_key": SHARED_SECRET_KEY} if kind == "postgresql" else {}),
            },
        }
        engine = create_engine(url)
        try:
            with Racers(2) as racers:
                answers = racers.race({"op": "harvest_pass", "harvester": uid, **shared})
                assert all("ok" in answer for answer in answers), answers
                assert sorted(answer["ok"]["created"] for answer in answers) == [0, PARTS], answers
                with engine.connect() as connection:
                    assert connection.scalar(select(func.count()).select_from(Dataset)) == PARTS
                    assert connection.scalar(select(func.count()).select_from(HarvestedDataset)) == PARTS
                for trial in range(3):
                    with engine.begin() as connection:  # due again, its datasets at rest
                        connection.execute(
                            update(Harvester).values(next_run_at=datetime(2000, 1, 1, tzinfo=UTC))
                        )
                        connection.execute(update(Dataset).values(status="idle", run_uid=None))
                    answers = racers.race({"op": "harvest_due", **shared})
                    assert all("ok" in answer for answer in answers), answers
                    claimed = [harvester for answer in answers for harvester in answer["ok"]]
                    assert claimed == [uid], f"trial {trial}: {answers}"
                    with engine.connect() as connection:
                        next_run = connection.scalar(select(Harvester.next_run_at))
                        assert next_run is not None and next_run.year > 2000
                        assert connection.scalar(select(func.count()).select_from(Dataset)) == PARTS
                        queued = connection.scalar(
                            select(func.count()).select_from(Dataset).where(Dataset.status == "queued")
                        )
                        assert queued == PARTS  # each one "refresh if changed", asked once
        finally:
            engine.dispose()
