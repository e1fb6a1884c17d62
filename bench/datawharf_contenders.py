"""datawharf's own contenders: its preview and its publish, through the core, on the bench's objects.

Both run in their own process (``bench.child``), like the peers, with a fresh home under ``out_dir``
(SQLite database, warehouse, secret key) and the bench server's ``host:port`` in the allowed private
hosts (loopback is refused otherwise: the SSRF guard).

- **preview** (``datawharf_preview``): ``datasets.unsaved_preview.preview_datasource``, the call behind the
  API's unsaved preview and ``datawharf preview``, on an ``AmazonS3Datasource`` with an inline signature
  v4 connection (the credentials a user would paste, as the peers get them). Extractor and parameters are
  guessed, 20 records come back. Timed: that call (client creation, HEAD, sniffing, the records), in a
  process that is warm as a running ``datawharf serve`` is (``_warm_up``, below).
- **preview, cold** (``datawharf_preview_cold``, tool ``datawharf-cold``): the same call as the first one
  of a fresh process, as ``datawharf preview URL`` pays it. In the JSON only; the tables and ratios use
  the API's figure.
- **publish** (``datawharf_publish``): what ``datawharf datasets create --title T URL`` then
  ``datawharf datasets publish D --wait`` do, as the same core calls in this process (the CLI's progress
  bar left out): guess the extractor and parameters, create the dataset and its resource, request the
  publish, run it to the end into its Parquet version. Timed: from the guess to the saved version (the
  ``create`` included: a user who has never seen the file does both). Not timed: opening the database
  (migrations) and saving the connection, which a user does once, not at every import, as the peers'
  library imports are not timed either.

Warm, for the API preview, means what a running service did at its first requests, before the clock
(as a peer's library import is paid before its clock): one S3 client built and closed (the first client
of a process parses botocore's S3 model, ~130 ms here; the publish's connection check does the same),
and one preview of a small CSV held in memory (not the bench's data) through the same extraction engine
(pyarrow's compute kernels, the guessers' first calls: ~100 ms more on a cold process). Every timed
preview still pays its own client (about 8 ms once the model is parsed), its HEAD, its reads, its
sniffing and its type guessing.

The published folder goes back as ``{"output": ...}``: the harness counts its rows and checks its types.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.objects import Contender, S3Object

#: The name the tables and ratios look for.
TOOL = "datawharf"
#: The preview as the first call of a fresh process (``datawharf preview``): in the JSON, not the tables.
COLD = "datawharf-cold"
HERE = "bench.datawharf_contenders"
FORMATS = ("csv", "csvgz", "jsonl", "parquet")
#: Imported before the clock starts (as ``bench.peers`` preloads polars or duckdb).
PRELOAD = (
    "datawharf.datasets.unsaved_preview",
    "datawharf.datasets.publish",
    "datawharf.store.db",
    "datawharf.connections.service",
)


#: In the bench's environment for the peers only: datawharf does not depend on them (``bench.child``).
ABSENT = ("pandas", "polars", "s3fs")


def datawharf_contenders() -> list[Contender]:
    """datawharf's preview and publish, on every format."""
    return [
        Contender(TOOL, "preview", f"{HERE}:datawharf_preview", FORMATS, PRELOAD, absent=ABSENT),
        Contender(COLD, "preview", f"{HERE}:datawharf_preview_cold", FORMATS, PRELOAD, absent=ABSENT),
        Contender(TOOL, "import", f"{HERE}:datawharf_publish", FORMATS, PRELOAD, absent=ABSENT),
    ]


def _settings(obj: S3Object, out_dir: Path) -> Any:
    """A fresh home in ``out_dir``; the bench server allowed although it is on loopback.

    Passed to ``Settings`` directly rather than through ``DATAWHARF_HOME`` and
    ``DATAWHARF_ALLOWED_PRIVATE_HOSTS``: the same fields, without touching this process's environment.
    """
    from datawharf.settings import Settings

    return Settings(home=out_dir / "home", allowed_private_hosts=[obj.host_port])


#: A small CSV of the usual kinds of columns, for the warm-up preview (not the bench's data).
WARM_UP_CSV = (
    "code,name,amount,day,updated,point\n"
    + "".join(
        f'{i:05d},"name {i}, here",{i * 1.5},2024-01-{i % 28 + 1:02d},2024-01-02T03:04:05+01:00,'
        f'"48.{i},2.{i}"\n'
        for i in range(1, 200)
    )
).encode()


def _warm_up(settings: Any, obj: S3Object) -> None:
    """What a running service has done before this request: botocore's S3 model parsed (no request
    sent), and one preview through the extraction engine, of a file that is not the bench's."""
    import io

    from datawharf.extract.preview import preview
    from datawharf.s3.client import make_client

    make_client(settings, endpoint_url=obj.endpoint_url).close()
    preview(io.BytesIO(WARM_UP_CSV), "warm-up.csv")


def _object_url(obj: S3Object) -> str:
    """The path-style URL a user copies from a MinIO-like console: endpoint, bucket, key."""
    return f"{obj.endpoint_url}/{obj.bucket}/{obj.key}"


def _sigv4(obj: S3Object) -> dict[str, Any]:
    """An ``AmazonS3Connection`` body with the bench's credentials (localbucket checks none)."""
    return {
        "type": "amazon_s3",
        "title": "bench",
        "url": f"{obj.endpoint_url}/{obj.bucket}/",
        "auth": {
            "type": "aws_signature_v4",
            "region": obj.region,
            "access_key_id": obj.access_key,
            "secret_access_key": obj.secret_key,
        },
    }


def datawharf_preview(obj: S3Object, out_dir: Path) -> dict[str, Any]:
    """The API's unsaved preview of the object: the first 20 records, extractor and parameters guessed."""
    return _preview(obj, out_dir, warm=True)


def datawharf_preview_cold(obj: S3Object, out_dir: Path) -> dict[str, Any]:
    """The same preview as the first thing a fresh process does (``datawharf preview URL``)."""
    return _preview(obj, out_dir, warm=False)


def _preview(obj: S3Object, out_dir: Path, *, warm: bool) -> dict[str, Any]:
    from datawharf.apikeys import ADMIN_PERMISSIONS
    from datawharf.datasets.unsaved_preview import preview_datasource
    from datawharf.store.db import open_database

    settings = _settings(obj, out_dir)
    database = open_database(settings)
    if warm:
        _warm_up(settings, obj)
    datasource = {"type": "amazon_s3", "url": _object_url(obj), "connection": _sigv4(obj)}
    try:
        started = time.perf_counter()
        with database.session() as session:
            body = preview_datasource(session, settings, datasource, permissions=ADMIN_PERMISSIONS)
        timed = time.perf_counter() - started
    finally:
        database.dispose()
    return {
        "timed_s": timed,
        "rows": len(body["records"]),
        "columns": {field["name"]: field["type"] for field in body["fields"]},
        "extractor": body["type"],
        "bytes_fetched_by_core": body["bytes_fetched"],
    }


def _create_dataset(database: Any, settings: Any, datasource: dict[str, Any], title: str) -> str:
    """``datawharf datasets create --connection CO --title T URL``: guess, then dataset and resource."""
    from datawharf.apikeys import ADMIN_PERMISSIONS
    from datawharf.datasets import locate, preview, resources, service
    from datawharf.datasets.datasource import parse_datasource

    with database.session() as session:
        target = locate.resolve(
            session, settings, parse_datasource(datasource), permissions=ADMIN_PERMISSIONS
        )
        with locate.probe(settings, target) as found:
            name, params = preview.guess_for(found.located, None, {})
        session.rollback()
    with database.session() as session:
        dataset = service.create_dataset(
            session, metadata={"default": {"title": {"value": title}}}, dataset_id=None, strict=False
        )
        resources.create_resource(
            session,
            settings,
            dataset.uid,
            type=name,
            title=title,
            params=params,
            datasource=datasource,
            permissions=ADMIN_PERMISSIONS,
        )
        return dataset.uid


def _publish(database: Any, settings: Any, dataset_uid: str) -> Any:
    """``datawharf datasets publish D --wait``: request the run, execute it here, return the catalog's
    entry for the new version (its Parquet files)."""
    from datawharf.datasets import catalog, control, service
    from datawharf.datasets.locate import stream_locator
    from datawharf.datasets.publish import PublishRun

    with database.session() as session:
        dataset = control.request_publish(session, dataset_uid, only_if_changed=False)
        run_uid, dataset_id = dataset.run_uid, dataset.dataset_id
    run = PublishRun(database, settings, dataset_uid, run_uid, stream_locator(database.session, settings))
    outcome = run.execute()
    with database.session() as session:
        dataset = service.get_dataset(session, dataset_uid)
        published = catalog.get_published(session, dataset.dataset_id, settings)
        if outcome != "idle" or published is None:
            raise RuntimeError(f"publish of {dataset_id} ended {outcome}: {dataset.status_message}")
    return published


def datawharf_publish(obj: S3Object, out_dir: Path) -> dict[str, Any]:
    """Create the dataset from the object's URL and publish it, end to end, into its Parquet version."""
    from datawharf.connections import service as connections
    from datawharf.connections.schemas import ConnectionCreate
    from datawharf.store.db import open_database

    settings = _settings(obj, out_dir)
    database = open_database(settings)
    try:
        with database.session() as session:  # once per user: `datawharf connections create`
            connection = connections.create_connection(
                session, settings, ConnectionCreate.model_validate(_sigv4(obj))
            )
            datasource = {"type": "amazon_s3", "url": obj.key, "connection": {"uid": connection.uid}}
        started = time.perf_counter()
        dataset_uid = _create_dataset(database, settings, datasource, title=obj.key)
        created = time.perf_counter()
        published = _publish(database, settings, dataset_uid)
        finished = time.perf_counter()
    finally:
        database.dispose()
    folders = {Path(path).parent for path in published.files}
    if len(folders) != 1:
        raise RuntimeError(f"expected one version folder, got {sorted(map(str, folders))}")
    return {
        "output": str(folders.pop()),
        "timed_s": finished - started,
        "create_s": created - started,
        "publish_s": finished - created,
        "records": published.records_count,
    }
