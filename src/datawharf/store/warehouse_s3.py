"""The warehouse on an S3 bucket (``DATAWHARF_WAREHOUSE_URL=s3://bucket/prefix``), for several machines.

Layout, one immutable prefix per publish attempt (``data_uid`` is new for every attempt)::

    <bucket>/<prefix>/<dataset_uid>/<data_uid>/part-00000.parquet
    <bucket>/<prefix>/<dataset_uid>/<data_uid>/_manifest.json      (written last)

S3 has no rename, and needs none: a run writes its files straight into the version's final prefix, then
the manifest, then commits the database transaction that makes it the current version; readers find a
version only through the database, so they never see a half-written one. A failed run deletes its
prefix; a killed one leaves a prefix (and maybe an unfinished multipart upload) that ``sweep`` removes
with the local folder's rules (``References``: what the database names, ``live`` datasets left alone,
nothing removed when the database knows no dataset at all). Unfinished multipart uploads older than
``warehouse_multipart_max_age`` are aborted (botocore: pyarrow lists none). The size cap
(``warehouse_max_bytes``) compares the database's sum of version sizes, never a walk of the bucket.

Files are written and read with pyarrow's ``S3FileSystem`` (the Explore side reads through the same
``filesystem``). Its endpoint is checked with the connections' outbound rules (``s3.netguard``): a
private or loopback endpoint needs its ``host:port`` in ``DATAWHARF_ALLOWED_PRIVATE_HOSTS``. pyarrow's
AWS SDK has its own credential chain, which asks the instance metadata service unconditionally; so the
keys are resolved here, by botocore's chain with the metadata service only if
``DATAWHARF_AWS_INSTANCE_METADATA`` allows it (``connections.identity.own_session``), and handed to
pyarrow. Known limit: temporary keys from the chain are frozen when the warehouse object is made;
``shared_warehouse`` makes a new one every ``CACHE_SECONDS``, well within a session's lifetime.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pyarrow.fs as pafs
from botocore.credentials import Credentials

from datawharf.connections.identity import own_session
from datawharf.errors import InvalidInput
from datawharf.s3.client import DEFAULT_REGION, S3Client, make_client
from datawharf.s3.netguard import check_endpoint
from datawharf.s3.scrub import Scrubber
from datawharf.settings import Settings
from datawharf.store.warehouse_base import References, Swept, WarehouseFull, full_message

MANIFEST = "_manifest.json"
CACHE_SECONDS = 300.0

log = logging.getLogger("datawharf.warehouse")

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class WarehouseUrl:
    bucket: str
    prefix: str  # no leading or trailing slash; "" for the bucket's root


def parse_warehouse_url(url: str) -> WarehouseUrl:
    """``s3://bucket`` or ``s3://bucket/some/prefix``; anything else is refused with the fix."""
    parts = urlsplit(url.strip())
    bucket = parts.netloc
    if parts.scheme != "s3" or not _BUCKET.match(bucket) or parts.query or parts.fragment:
        raise InvalidInput(
            f"DATAWHARF_WAREHOUSE_URL={url!r} is not an S3 warehouse URL: write s3://bucket or "
            "s3://bucket/prefix (a bucket name of 3-63 lowercase letters, digits, dots and dashes), "
            "with the endpoint in DATAWHARF_WAREHOUSE_ENDPOINT_URL; unset it for the local folder.",
            error_code="invalid_warehouse_url",
        )
    return WarehouseUrl(bucket=bucket, prefix=parts.path.strip("/"))


def _credentials(settings: Settings) -> Credentials:
    key_id = settings.warehouse_access_key_id
    secret = settings.warehouse_secret_access_key
    if key_id or secret:
        if not key_id or secret is None or not secret.get_secret_value():
            raise InvalidInput(
                "Give both DATAWHARF_WAREHOUSE_ACCESS_KEY_ID and DATAWHARF_WAREHOUSE_SECRET_ACCESS_KEY, or "
                "neither (then the standard AWS credential chain is used).",
                error_code="warehouse_credentials_missing",
            )
        return Credentials(key_id.strip(), secret.get_secret_value(), method="datawharf-warehouse")
    found = own_session(settings).get_credentials()
    if found is None:
        metadata = (
            ""
            if settings.aws_instance_metadata
            else " (DATAWHARF_AWS_INSTANCE_METADATA is off, so the instance metadata service was not asked)"
        )
        raise InvalidInput(
            f"The S3 warehouse has no credentials: DATAWHARF_WAREHOUSE_ACCESS_KEY_ID is unset and the "
            f"standard AWS credential chain found none{metadata}. Set the warehouse keys, AWS_ACCESS_KEY_ID "
            "and AWS_SECRET_ACCESS_KEY, a profile, or allow the instance metadata service.",
            error_code="warehouse_credentials_missing",
        )
    frozen = found.get_frozen_credentials()
    return Credentials(frozen.access_key, frozen.secret_key, frozen.token, method="datawharf-warehouse")


class S3Warehouse:
    """The ``Warehouse`` interface on one bucket and prefix (see the module docstring)."""

    is_local = False

    def __init__(self, settings: Settings) -> None:
        assert settings.warehouse_url
        self.settings = settings
        self.location = parse_warehouse_url(settings.warehouse_url)
        self.max_bytes = settings.warehouse_max_bytes
        self.region = settings.warehouse_region or DEFAULT_REGION
        self.endpoint_url = settings.warehouse_endpoint_url
        options: dict[str, Any] = {}
        if self.endpoint_url:
            check_endpoint(self.endpoint_url, settings)
            parts = urlsplit(self.endpoint_url)
            if parts.scheme not in ("http", "https") or parts.path.strip("/"):
                raise InvalidInput(
                    f"DATAWHARF_WAREHOUSE_ENDPOINT_URL={self.endpoint_url!r} must be http(s)://host[:port] "
                    "with no path.",
                    error_code="invalid_warehouse_url",
                )
            options = {"endpoint_override": parts.netloc, "scheme": parts.scheme}
        self._credentials = _credentials(settings)
        frozen = self._credentials.get_frozen_credentials()
        self.scrubber = Scrubber(tuple(s for s in (frozen.secret_key, frozen.token) if s))
        self.filesystem: pafs.FileSystem = pafs.S3FileSystem(
            access_key=frozen.access_key,
            secret_key=frozen.secret_key,
            session_token=frozen.token,
            region=self.region,
            connect_timeout=settings.s3_connect_timeout,
            request_timeout=settings.s3_read_timeout,
            retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=max(1, settings.s3_max_attempts)),
            allow_bucket_creation=False,
            allow_bucket_deletion=False,
            check_directory_existence_before_creation=False,
            **options,
        )
        self._client: S3Client | None = None
        self._client_lock = threading.Lock()

    def __repr__(self) -> str:  # never the keys
        return f"S3Warehouse(s3://{self.root})"

    # --- paths ---------------------------------------------------------------------------------

    @property
    def root(self) -> str:
        loc = self.location
        return f"{loc.bucket}/{loc.prefix}" if loc.prefix else loc.bucket

    def dataset_path(self, dataset_uid: str) -> str:
        return f"{self.root}/{dataset_uid}"

    def version_path(self, dataset_uid: str, data_uid: str) -> str:
        return f"{self.root}/{dataset_uid}/{data_uid}"

    def version_exists(self, dataset_uid: str, data_uid: str) -> bool:
        """Whether the version's prefix holds objects (one LIST of one key).

        Asked of versions the database references only, whose runs committed after writing every
        file; so any object will do, and a warehouse copied from a local folder (no manifests) counts.
        """
        bucket, _, key = self.version_path(dataset_uid, data_uid).partition("/")
        listed = self.client().raw.list_objects_v2(Bucket=bucket, Prefix=f"{key}/", MaxKeys=1)
        return bool(listed.get("KeyCount") or listed.get("Contents"))

    # --- a publish -----------------------------------------------------------------------------

    def start_version(self, dataset_uid: str, data_uid: str) -> str:
        """The final prefix: nothing is made on S3 until the first file is written."""
        return self.version_path(dataset_uid, data_uid)

    def finish_version(self, dataset_uid: str, data_uid: str, files: Sequence[str]) -> str:
        """Write the manifest, the last object of a version, naming its files and their sizes."""
        path = self.version_path(dataset_uid, data_uid)
        infos = self.filesystem.get_file_info([f"{path}/{name}" for name in files])
        manifest = {
            "dataset_uid": dataset_uid,
            "data_uid": data_uid,
            "files": [{"name": n, "size": i.size} for n, i in zip(files, infos, strict=True)],
            "written_at": dt.datetime.now(dt.UTC).isoformat(),
        }
        with self.filesystem.open_output_stream(f"{path}/{MANIFEST}") as out:
            out.write(json.dumps(manifest).encode())
        return path

    def discard(self, path: str) -> None:
        try:
            self._delete_prefix(path)
        except Exception as exc:  # the sweep removes what is left
            log.warning("could not remove the warehouse prefix %s: %s", path, self.scrubber.clean(exc))

    def _delete_prefix(self, path: str) -> int:
        """Delete every object under ``path/`` (a ``bucket/key`` path); the bytes freed.

        botocore's list and batch delete rather than pyarrow's ``delete_dir``, which leaves an empty
        "directory" object in place of the parent it must keep existing.
        """
        bucket, _, key = path.partition("/")
        raw = self.client().raw
        freed = 0
        for page in raw.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{key}/"):
            contents = page.get("Contents", []) or []
            if not contents:
                continue
            freed += sum(int(o.get("Size", 0)) for o in contents)
            raw.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": o["Key"]} for o in contents], "Quiet": True}
            )
        return freed

    def remove_dataset(self, dataset_uid: str) -> None:
        self.discard(self.dataset_path(dataset_uid))

    # --- the size cap --------------------------------------------------------------------------

    def used_bytes(self, recorded: Callable[[], int]) -> int:
        """The database's sum of the versions' sizes: listing a bucket to size it is slow and costs."""
        return recorded()

    def full_error(self, needed: int | None = None) -> WarehouseFull:
        where = f"the warehouse cap ({self.max_bytes} bytes, setting DATAWHARF_WAREHOUSE_MAX_BYTES)"
        if self.max_bytes is None:
            where = f"what the bucket s3://{self.root} accepts"
        return WarehouseFull(
            full_message(where), detail={"needed_bytes": needed} if needed is not None else {}
        )

    def check_room(self, used_before: int, written: int) -> None:
        if self.max_bytes is not None and used_before + written > self.max_bytes:
            raise self.full_error(used_before + written)

    # --- the sweep -----------------------------------------------------------------------------

    def sweep(self, references: Callable[[], References]) -> Swept:
        """Remove the prefixes the database does not name, then abort stale multipart uploads.

        The bucket is listed before the database is read, for the reasons the local sweep gives
        (``LocalWarehouse.sweep``). A failure (the endpoint unreachable) is logged, never raised: the
        next pass retries.
        """
        started = time.monotonic()
        swept = Swept()
        try:
            listed = self._listing()
            uploads = self._uploads()
            if not listed and not uploads:
                return swept
            known = references()
            if not known.datasets:
                log.warning(
                    "the warehouse s3://%s holds %d dataset prefix(es) but the database knows no dataset: "
                    "is DATAWHARF_DATABASE_URL the database of this warehouse? Nothing was removed.",
                    self.root,
                    len(listed),
                )
                return swept
            for dataset_uid, children in listed.items():
                if dataset_uid in known.live:
                    continue
                referenced = known.datasets.get(dataset_uid)
                if referenced is None:
                    orphans = [self.dataset_path(dataset_uid)]
                else:
                    orphans = [self.version_path(dataset_uid, c) for c in children if c not in referenced]
                for path in orphans:
                    swept.bytes += self._delete_prefix(path)
                    swept.removed.append(path)
            swept.uploads_aborted = self._abort_stale(uploads, known)
        except Exception as exc:  # the sweep must never stop a start or a scheduler pass
            log.warning("the warehouse sweep of s3://%s failed: %s", self.root, self.scrubber.clean(exc))
            return swept
        if swept.removed or swept.uploads_aborted:
            log.warning(
                "removed %d warehouse prefix(es) (%d bytes, in %.3f s) that the database does not "
                "reference, and aborted %d stale multipart upload(s): %s",
                len(swept.removed),
                swept.bytes,
                time.monotonic() - started,
                swept.uploads_aborted,
                ", ".join(str(p)[len(self.root) + 1 :] for p in swept.removed[:20]),
            )
        return swept

    def _listing(self) -> dict[str, list[str]]:
        """Dataset prefix -> the version prefixes in it."""
        selector = pafs.FileSelector(self.root, allow_not_found=True, recursive=False)
        listed: dict[str, list[str]] = {}
        for info in self.filesystem.get_file_info(selector):
            if info.type != pafs.FileType.Directory:
                continue
            inner = pafs.FileSelector(info.path, allow_not_found=True, recursive=False)
            listed[info.base_name] = [
                c.base_name for c in self.filesystem.get_file_info(inner) if c.type == pafs.FileType.Directory
            ]
        return listed

    def client(self) -> S3Client:
        """A botocore client (for the multipart uploads pyarrow does not list), made on first use."""
        with self._client_lock:
            if self._client is None:
                self._client = make_client(
                    self.settings,
                    endpoint_url=self.endpoint_url,
                    region=self.region,
                    addressing_style="path" if self.endpoint_url else "virtual",
                    credentials=self._credentials,
                    max_pool_connections=2,
                )
            return self._client

    def _uploads(self) -> list[dict[str, Any]]:
        """Every unfinished multipart upload under the warehouse prefix."""
        prefix = f"{self.location.prefix}/" if self.location.prefix else ""
        paginator = self.client().raw.get_paginator("list_multipart_uploads")
        found: list[dict[str, Any]] = []
        for page in paginator.paginate(Bucket=self.location.bucket, Prefix=prefix):
            found += page.get("Uploads", []) or []
        return found

    def _abort_stale(self, uploads: list[dict[str, Any]], known: References) -> int:
        """Abort the uploads older than the setting, except a live dataset's (its run may be writing)."""
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=self.settings.warehouse_multipart_max_age)
        skip = len(self.location.prefix) + 1 if self.location.prefix else 0
        aborted = 0
        for upload in uploads:
            key = str(upload["Key"])
            dataset_uid = key[skip:].split("/", 1)[0]
            initiated = upload.get("Initiated")
            if dataset_uid in known.live or not isinstance(initiated, dt.datetime) or initiated > cutoff:
                continue
            with contextlib.suppress(Exception):  # gone meanwhile: the next pass sees the rest
                self.client().raw.abort_multipart_upload(
                    Bucket=self.location.bucket, Key=key, UploadId=upload["UploadId"]
                )
                aborted += 1
        return aborted


_shared: dict[tuple[Any, ...], tuple[float, S3Warehouse]] = {}
_shared_lock = threading.Lock()


def shared_warehouse(settings: Settings) -> S3Warehouse:
    """One ``S3Warehouse`` per configuration, remade after ``CACHE_SECONDS`` (fresh chain credentials).

    Every publish, version listing and Explore request asks for the warehouse, and resolving the AWS
    chain's credentials makes a botocore session (28 ms here; static keys: 0.1 ms). Keyed by every
    setting it depends on, secret included, so a changed key is a new instance at once; chain
    credentials (which rotate) are resolved again after ``CACHE_SECONDS``.
    """
    secret = settings.warehouse_secret_access_key
    key = (
        settings.warehouse_url,
        settings.warehouse_endpoint_url,
        settings.warehouse_region,
        settings.warehouse_access_key_id,
        secret.get_secret_value() if secret is not None else None,
        settings.warehouse_max_bytes,
        settings.warehouse_multipart_max_age,
        tuple(settings.allowed_private_hosts),
        settings.aws_instance_metadata,
        settings.s3_connect_timeout,
        settings.s3_read_timeout,
        settings.s3_max_attempts,
    )
    now = time.monotonic()
    with _shared_lock:
        cached = _shared.get(key)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
    warehouse = S3Warehouse(settings)
    with _shared_lock:
        _shared[key] = (now, warehouse)
    return warehouse
