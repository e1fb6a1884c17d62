"""Unparsable URLs and refused extractor parameters, replayed against a real server: each is a specific
400 (never a 500), quickly, and the server stays healthy."""

from __future__ import annotations

from collections import Counter

from tests.support.hostile import API, HostileServer, attack, error_code
from tests.support.moto import MotoServer

SIGV4 = {
    "type": "aws_signature_v4",
    "region": "us-east-1",
    "access_key_id": "AKIAIOSFODNN7EXAMPLE",
    "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
}
BAD_URLS = ("http://[::1", "s3://[::1/k", "https://[::1]:99999/b/k", "http://a:b:c/x/y")


def test_bad_urls_and_params_are_specific_400s(
    hostile_server: HostileServer, moto_server: MotoServer
) -> None:
    bucket = moto_server.create_bucket()
    codes: Counter[tuple[int, str | None]] = Counter()
    with (
        attack(hostile_server, "bad_urls_and_params", max_seconds=30.0, rss_budget_mib=1024) as record,
        hostile_server.client() as client,
    ):
        connection = client.post(
            f"{API}/datasource_connections/",
            json={"type": "amazon_s3", "url": f"{moto_server.endpoint_url}/{bucket}/", "auth": SIGV4},
        ).json()["uid"]
        dataset = client.post(f"{API}/datasets/", json={"metadata": {}}).json()["uid"]
        for _ in range(25):
            for url in BAD_URLS:
                answer = client.post(
                    f"{API}/datasource_connections/", json={"type": "amazon_s3", "url": url, "auth": SIGV4}
                )
                codes[answer.status_code, error_code(answer)] += 1
            for name in ("//[", "//[::1/x.csv"):
                answer = client.post(
                    f"{API}/datasource_connections/{connection}/validate/", params={"url": name}
                )
                codes[answer.status_code, error_code(answer)] += 1
            for params in ({"separator": "XX"}, {"nosuch": 1}, {"first_row_no": 0}):
                answer = client.post(
                    f"{API}/datasets/{dataset}/resources/",
                    json={
                        "type": "csvfile",
                        "title": "x.csv",
                        "params": params,
                        "datasource": {
                            "type": "amazon_s3",
                            "url": "x.csv",
                            "connection": {"uid": connection},
                        },
                    },
                )
                codes[answer.status_code, error_code(answer)] += 1
        record.notes["answers"] = {
            f"{status} {code}": count for (status, code), count in sorted(codes.items())
        }
    assert codes == {(400, "malformed_url"): 150, (400, "invalid_params"): 75}, codes
