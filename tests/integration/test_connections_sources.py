"""``datasets/locate``: the one road from a datasource to an object, through a connection or none."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from datawharf.apikeys import ADMIN_PERMISSIONS
from datawharf.connections import service
from datawharf.connections.schemas import ConnectionCreate
from datawharf.datasets import locate
from datawharf.datasets.datasource import parse_datasource
from datawharf.errors import InvalidInput
from datawharf.settings import Settings
from datawharf.store.db import open_database
from tests.support.moto import S3Bucket

CSV = b"name,qty\napple,3\n"


def target(session: Session, settings: Settings, datasource: dict) -> locate.Target:
    return locate.resolve(session, settings, parse_datasource(datasource), permissions=ADMIN_PERMISSIONS)


def sigv4(url: str) -> dict:
    return {
        "type": "amazon_s3",
        "url": url,
        "auth": {
            "type": "aws_signature_v4",
            "access_key_id": "testing",
            "secret_access_key": "testing",
            "region": "us-east-1",
        },
    }


def test_open_object_through_a_saved_connection_with_a_relative_url(
    settings: Settings, s3_bucket: S3Bucket
) -> None:
    etag = s3_bucket.put("dir/fruits.csv", CSV)
    database = open_database(settings)
    try:
        with database.session() as session:
            uid = service.create_connection(
                session, settings, ConnectionCreate.model_validate(sigv4(s3_bucket.url()))
            ).uid
        with database.session() as session:
            datasource = {"type": "amazon_s3", "url": "dir/fruits.csv", "connection": {"uid": uid}}
            found = target(session, settings, datasource)
            location = found.location
            assert (location.bucket, location.key) == (s3_bucket.name, "dir/fruits.csv")
            with locate.probe(settings, found) as probed:
                assert (probed.located.size, probed.located.etag) == (len(CSV), etag)
            with locate.client_of(settings, found) as client:
                body = client.raw.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
            assert body == CSV
    finally:
        database.dispose()


def test_open_source_inline_and_anonymous(settings: Settings, s3_bucket: S3Bucket) -> None:
    s3_bucket.put("a.csv", CSV)
    s3_bucket.put("public.csv", CSV, ACL="public-read")
    database = open_database(settings)
    try:
        with database.session() as session:
            inline = {
                "type": "amazon_s3",
                "url": s3_bucket.url("a.csv"),
                "connection": sigv4(s3_bucket.url()),
            }
            found = target(session, settings, inline)
            assert found.connection is not None and found.connection not in session  # never saved
            with locate.probe(settings, found) as probed:
                assert probed.located.size == len(CSV)
            anonymous = {"type": "amazon_s3", "url": s3_bucket.url("public.csv"), "connection": None}
            with locate.probe(settings, target(session, settings, anonymous)) as probed:
                assert probed.located.size == len(CSV)
            bad = {"type": "amazon_s3", "url": s3_bucket.url("a.csv"), "connection": {"type": "amazon_s3"}}
            with pytest.raises(InvalidInput) as refused:
                target(session, settings, bad)
            assert refused.value.error_code == "invalid_datasource"
            metadata = {"type": "amazon_s3", "url": "http://169.254.169.254/latest/x", "connection": None}
            with (
                pytest.raises(InvalidInput) as guard,
                locate.probe(settings, target(session, settings, metadata)),
            ):
                pass
            assert guard.value.error_code == "private_address_refused"
    finally:
        database.dispose()
