"""The transport ceiling: the whole object through parallel ranged GETs with boto3, into nowhere.

No reader can import an object faster than it can fetch it from the same server on the same machine, so
every import's MiB/s is also shown as a fraction of this one, measured in the same run.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.objects import S3Object

PART_SIZE = 8 * 1024 * 1024
THREADS = 4


def _client(obj: S3Object) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=obj.endpoint_url,
        aws_access_key_id=obj.access_key,
        aws_secret_access_key=obj.secret_key,
        region_name=obj.region,
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=THREADS),
    )


def transport(obj: S3Object, out_dir: Path) -> dict[str, Any]:
    """Fetch every byte of the object with THREADS concurrent ranged GETs of PART_SIZE, discarding them."""
    client = _client(obj)
    size = client.head_object(Bucket=obj.bucket, Key=obj.key)["ContentLength"]
    # The clock starts here: building a boto3 client (~0.2 s of loading its service model) is not transport.
    started = time.perf_counter()

    def fetch(start: int) -> int:
        end = min(start + PART_SIZE, size) - 1
        body = client.get_object(Bucket=obj.bucket, Key=obj.key, Range=f"bytes={start}-{end}")["Body"]
        received = 0
        for chunk in body.iter_chunks(1024 * 1024):
            received += len(chunk)
        return received

    with ThreadPoolExecutor(THREADS) as pool:
        received = sum(pool.map(fetch, range(0, size, PART_SIZE)))
    timed = time.perf_counter() - started
    if received != size:
        raise RuntimeError(f"fetched {received} bytes of a {size}-byte object")
    return {"bytes": received, "threads": THREADS, "part_size": PART_SIZE, "timed_s": timed}
