"""odsclient (PyPI), which downloads through the portal export URL ``/explore/dataset/{id}/download/``,
against a real ``datawharf serve``: the whole dataset comes back as the rows it was published from,
a restricted one with an API key, and a missing one as odsclient's ``ODSException`` carrying v1's error."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

import httpx2
import pytest
from odsclient import ODSClient
from odsclient.core import ODSException

from tests.support.app import AUTH, BOOTSTRAP_KEY
from tests.support.explore import HEADERS, ROWS, csv_bytes, publish_csv
from tests.support.moto import MotoServer
from tests.support.processes import datawharf_serve


@dataclass(frozen=True)
class Served:
    base_url: str
    public_id: str
    secret_id: str
    reader_key: str

    def client(self, apikey: str | None = None) -> ODSClient:
        # No keyring and no key file: only the key given, if any (odsclient takes a key or a key file).
        if apikey is not None:
            return ODSClient(base_url=self.base_url, apikey=apikey, use_keyring=False)
        return ODSClient(base_url=self.base_url, apikey_filepath=None, use_keyring=False)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, moto_server: MotoServer) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("v1-odsclient") / "home"
    env = {
        "DATAWHARF_BOOTSTRAP_API_KEY": BOOTSTRAP_KEY,
        "DATAWHARF_ALLOWED_PRIVATE_HOSTS": moto_server.host_port,
    }
    with (
        datawharf_serve(home, env) as (base_url, _process),
        httpx2.Client(base_url=base_url, timeout=120) as client,
    ):
        bucket = moto_server.create_bucket()
        public = publish_csv(client, moto_server, bucket, "items.csv", csv_bytes(ROWS), "Items")
        secret = publish_csv(
            client, moto_server, bucket, "s.csv", csv_bytes(ROWS[:4]), "Budget", restricted=True
        )
        created = client.post(
            "/api/automation/v1.0/apikeys/",
            headers=AUTH,
            json={"label": "odsclient", "permissions": ["explore_restricted_dataset"]},
        )
        assert created.status_code == 201, created.text
        yield Served(base_url, public["dataset_id"], secret["dataset_id"], created.json()["key"])


def test_get_whole_dataset_returns_the_published_rows(served: Served) -> None:
    text = served.client().get_whole_dataset(served.public_id)
    header, *lines = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert header == HEADERS  # odsclient asks for the labels (use_labels_for_header=True)
    assert len(lines) == len(ROWS)
    for line, row in zip(lines, ROWS, strict=True):
        cells = dict(zip(HEADERS, line, strict=True))
        assert int(cells["ID"]) == row.id
        assert (cells["Name"], cells["City"]) == (row.name, row.city)
        assert cells["Population"] == ("" if row.population is None else str(row.population))
        assert cells["Founded"] == row.founded.isoformat()
        lat, lon = (float(v) for v in cells["Location"].split(","))
        assert (lon, lat) == row.location


def test_a_restricted_dataset_needs_the_key(served: Served) -> None:
    with pytest.raises(ODSException) as refused:
        served.client().get_whole_dataset(served.secret_id)
    assert refused.value.status_code == 404
    assert refused.value.details["errorcode"] == 10004
    assert served.secret_id in refused.value.error_msg
    text = served.client(apikey=served.reader_key).get_whole_dataset(served.secret_id, csv_separator=",")
    header, *lines = list(csv.reader(io.StringIO(text)))
    assert header == HEADERS
    assert [int(line[0]) for line in lines] == [r.id for r in ROWS[:4]]


def test_other_formats_through_the_same_url(served: Served) -> None:
    text = served.client().get_whole_dataset(served.public_id, format="geojson")
    assert '"FeatureCollection"' in text
    assert text.count('"Feature"') == len(ROWS)


def test_get_whole_dataframe_reads_the_same_rows(served: Served) -> None:
    frame = served.client().get_whole_dataframe(served.public_id)  # pandas: of the bench extra
    assert list(frame.columns) == HEADERS
    assert frame["ID"].tolist() == [r.id for r in ROWS]
    assert frame["City"].tolist() == [r.city for r in ROWS]
    assert frame["Population"].isna().tolist() == [r.population is None for r in ROWS]
