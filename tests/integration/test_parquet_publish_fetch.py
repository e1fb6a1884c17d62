"""A Parquet publish reads its object about once: the footer jump must not drop the chunks read ahead."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datawharf.extract.archive import open_content
from datawharf.extract.base import ReadOptions
from datawharf.extract.parquet import ParquetExtractor
from datawharf.s3.client import make_client
from datawharf.s3.credentials import static_credentials
from datawharf.s3.reader import open_object
from datawharf.settings import Settings
from tests.support.moto import S3Bucket

MiB = 1024 * 1024
CREDS = static_credentials("testing", "testing")


def _parquet(rows: int) -> bytes:
    rng = np.random.default_rng(7)
    table = pa.table({"id": np.arange(rows, dtype=np.int64), "value": rng.random(rows)})
    out = io.BytesIO()
    pq.write_table(table, out, row_group_size=rows // 8, compression="none")
    return out.getvalue()


@pytest.mark.parametrize("tiny_last_chunk", [False, True])
def test_parquet_publish_fetches_the_object_once(
    s3_bucket: S3Bucket, settings: Settings, tiny_last_chunk: bool
) -> None:
    body = _parquet(300_000)  # about 5.7 MiB: six 1 MiB chunks, more than the read-ahead window
    assert 4 * MiB < len(body) < 6 * MiB
    # a last chunk of 10 kB: the footer read starts in the chunk before it
    chunk = (len(body) - 10_000) // 5 if tiny_last_chunk else 1 * MiB
    s3_bucket.put("table.parquet", body)
    with (
        make_client(settings, endpoint_url=s3_bucket.server.endpoint_url, credentials=CREDS) as client,
        open_object(
            client, s3_bucket.name, "table.parquet", access="stream", chunk_size=chunk, concurrency=3
        ) as raw,
    ):
        # the publish path: open_content peeks the head, the extractor jumps to the footer, then reads on
        content, inner = open_content(raw, "table.parquet", {})  # type: ignore[arg-type]
        batches = list(ParquetExtractor().read(content, {}, ReadOptions(filename=inner)))
        assert sum(b.num_rows for b in batches) == 300_000
        assert batches[-1].column("id")[-1].as_py() == 299_999
        assert raw.bytes_fetched <= 1.1 * len(body), (raw.bytes_fetched, len(body), raw.requests)
        assert raw.cache.peak_chunks <= 3 + 2  # the window, plus the two last chunks held for the footer
