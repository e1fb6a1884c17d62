"""The one typed settings object. Nothing else in datawharf reads the environment.

Every field is read from a ``DATAWHARF_<NAME>`` environment variable; every one has a default, so
datawharf runs with none set (SQLite and a local warehouse under ``DATAWHARF_HOME``).
"""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from datawharf.errors import InvalidInput
from datawharf.extract.limits import DEFAULT_SPREADSHEET_LIMITS as _SHEETS
from datawharf.extract.limits import SpreadsheetLimits
from datawharf.keyfile import read_or_create

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

MiB = 1024 * 1024

# The languages the reference allows in a dataset's ``metadata.default.language``.
Language = Literal["en", "fr", "nl", "pt", "it", "ar", "de", "es", "ca", "eu", "sv"]


def _default_home() -> Path:
    return Path.home() / ".datawharf"


def machine_cores() -> int:
    """The cores this process may run on: its CPU affinity (a container's or ``taskset``'s share), which
    ``os.cpu_count()`` (the host's) overstates."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# A small object's read is mostly waiting for its answer (a round trip of 10-50 ms to a remote store,
# against a millisecond of parsing): with one read per core, 1,000 objects at 40 ms took 26 s; with 8
# and 16 at once, 7.1 s and 4.3 s (bench/README.md, issue 18). Capped: each read holds one object of up
# to 8 MiB and its parsed batches.
SET_READS_PER_CORE = 4
MAX_SET_READ_THREADS = 16


def default_set_read_threads(cores: int | None = None) -> int:
    return min(MAX_SET_READ_THREADS, SET_READS_PER_CORE * (cores or machine_cores()))


def _half_the_cores() -> int:
    return max(1, machine_cores() // 2)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DATAWHARF_", extra="ignore", frozen=True)

    home: Path = Field(default_factory=_default_home, description="Data folder: DB, warehouse, key.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the metadata DB; SQLite in the home folder when unset.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Fernet key encrypting secrets at rest (and signing backoffice sessions); required "
        "with a database other than SQLite, generated into the home folder if unset on SQLite.",
    )
    domain: str = Field(default="datawharf", description="This portal's domain, in external IDs.")
    default_language: Language = Field(
        default="en", description="metadata.default.language of a dataset that does not set one."
    )
    external_id_prefix: str = Field(default="dw", description="Prefix of IAM-role external IDs.")
    sts_endpoint_url: str | None = Field(default=None, description="STS endpoint (tests, non-AWS).")
    sts_region: str = Field(default="us-east-1", description="Region of datawharf's own STS calls.")
    aws_instance_metadata: bool = Field(
        default=False,
        description="Let datawharf's own AWS credentials come from the instance or container metadata "
        "service (EC2 IMDS, ECS/EKS); off, it is never contacted.",
    )
    allowed_private_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated host:port pairs allowed although they resolve to private IPs.",
    )
    host: str = Field(default="127.0.0.1", description="Address `datawharf serve` listens on.")
    port: int = Field(default=8000, description="Port `datawharf serve` listens on.")
    tls_cert_file: Path | None = Field(
        default=None,
        description="PEM certificate (chain after it) `datawharf serve` serves HTTPS with; needs the key.",
    )
    tls_key_file: Path | None = Field(
        default=None, description="PEM private key (unencrypted) of DATAWHARF_TLS_CERT_FILE."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["*"],
        description="Origins whose pages may call the Explore API: '*' (all), a comma list, or empty (none).",
    )
    bootstrap_api_key: SecretStr | None = Field(
        default=None, description="If set, an admin API key with this value exists after start."
    )
    s3_connect_timeout: float = Field(default=10.0, description="Seconds to open a connection.")
    s3_read_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Seconds to wait for a response, or for the next bytes of a body being read.",
    )
    s3_max_attempts: int = Field(default=5, description="Attempts per S3 request (standard mode).")
    preview_max_bytes: int = Field(
        default=8 * MiB, description="Most bytes a preview may fetch before giving up."
    )
    glob_mismatch: Literal["fail", "skip"] = Field(
        default="fail",
        description="A prefix or glob's object whose fields differ from the first's: fail the publish, "
        "or skip it and list it in the run's errors.",
    )
    incremental_on_change: Literal["rebuild", "fail"] = Field(
        default="rebuild",
        description="A publish 'only if changed' of a prefix or glob that finds an object changed or gone "
        "since the current version: rebuild the whole version, or fail and keep the current one.",
    )
    set_split_objects: int | None = Field(
        default=None,
        ge=0,
        description="A prefix or glob with more objects than this is spread over the workers, this many "
        "objects per part run; unset: 200 with the procrastinate job backend, never with threads; 0: never.",
    )
    set_read_threads: int = Field(
        default_factory=default_set_read_threads,
        ge=1,
        description="Small objects of a prefix or glob read at once in a publish (default: four a core, "
        "at most 16).",
    )
    spreadsheet_max_cells: int = Field(
        default=_SHEETS.max_cells,
        ge=1,
        description="Most cells a sheet may span (its bounding box, as the reader allocates it).",
    )
    spreadsheet_max_rows: int = Field(default=_SHEETS.max_rows, ge=1, description="Most rows of a sheet.")
    spreadsheet_max_member_bytes: int = Field(
        default=_SHEETS.max_member_bytes,
        ge=1,
        description="Most bytes any part of an xlsx/ods (a zip) may inflate to, declared or real.",
    )
    spreadsheet_max_shared_strings_bytes: int = Field(
        default=_SHEETS.max_shared_strings_bytes,
        ge=1,
        description="Most bytes an xlsx's shared strings may inflate to.",
    )
    spreadsheet_max_memory: int = Field(
        default=_SHEETS.max_memory_bytes,
        ge=64 * MiB,
        description="Bytes of address space the child process reading a workbook may take.",
    )
    spreadsheet_timeout: float = Field(
        default=_SHEETS.timeout_seconds, gt=0, description="Seconds the child reading a workbook may take."
    )
    job_workers: int = Field(
        default_factory=machine_cores,
        ge=1,
        description="Publish jobs running at once in-process (default: the cores).",
    )
    job_backend: Literal["threads", "procrastinate"] = Field(
        default="threads",
        description="Where publishes run: 'threads' in the server process, 'procrastinate' on "
        "'datawharf worker' processes (PostgreSQL; the datawharf[distributed] extra).",
    )
    job_max_attempts: int | None = Field(
        default=None,
        ge=1,
        description="Attempts a run gets when its worker dies (stops beating) before it is failed "
        "(default: 2 with procrastinate, 1 with threads).",
    )
    job_stale_seconds: float = Field(
        default=120.0,
        gt=0,
        description="Seconds without a heartbeat (database clock) after which a run's worker is "
        "taken for dead and the run retried or failed.",
    )
    schedule_cron: str = Field(
        default="* * * * *",
        description="When 'datawharf worker's run the scheduling pass (due schedules, stale runs), as a "
        "cron expression (a sixth field counts seconds); once per tick across all workers.",
    )
    worker_shutdown_grace: float = Field(
        default=10.0,
        ge=0,
        description="Seconds a stopping 'datawharf worker' lets its running publishes finish before it "
        "hands them back to the queue for another worker.",
    )
    parse_threads: int = Field(
        default_factory=machine_cores,
        ge=1,
        description="Threads parsing one CSV publish's blocks, and blocks in flight (default: the cores).",
    )
    convert_threads: int = Field(
        default_factory=_half_the_cores,
        ge=1,
        description="Batches typed at once ahead of the Parquet writer (default: half the cores).",
    )
    warehouse_max_bytes: int | None = Field(
        default=None, description="Cap on the warehouse folder's size; a publish crossing it fails."
    )
    versions_keep: int = Field(
        default=10,
        ge=0,
        description="Versions kept per dataset after each publish (the newest, and always the current "
        "one); 0 keeps them all.",
    )
    warehouse_sweep_interval: float = Field(
        default=600.0,
        gt=0,
        description="Seconds between passes removing warehouse folders the database does not reference.",
    )
    warehouse_url: str | None = Field(
        default=None,
        description="s3://bucket/prefix: the warehouse on that S3 bucket; unset, the local folder "
        "(home/warehouse).",
    )
    warehouse_endpoint_url: str | None = Field(
        default=None, description="S3 endpoint of the warehouse bucket (MinIO, OVH...); unset: AWS."
    )
    warehouse_region: str | None = Field(
        default=None, description="Region of the warehouse bucket (default us-east-1)."
    )
    warehouse_access_key_id: str | None = Field(
        default=None,
        description="Access key of the warehouse bucket; unset: the standard AWS credential chain.",
    )
    warehouse_secret_access_key: SecretStr | None = Field(
        default=None, description="Secret key of DATAWHARF_WAREHOUSE_ACCESS_KEY_ID (never logged)."
    )
    warehouse_multipart_max_age: float = Field(
        default=86400.0,
        gt=0,
        description="Seconds after which the sweep aborts an unfinished multipart upload in the S3 "
        "warehouse (what a killed run leaves).",
    )
    scheduler_interval: float = Field(
        default=20.0, description="Seconds between checks of dataset schedules and queued publishes."
    )
    query_pool_size: int = Field(
        default=4, ge=1, description="Records and catalog queries running at once (DuckDB connections)."
    )
    query_memory_limit: str = Field(
        default="128MB",
        description="DuckDB memory limit of each query and export connection (e.g. '128MB', '1GB').",
    )
    query_timeout: float = Field(default=60.0, description="Seconds an Explore query may run.")
    max_request_head_bytes: int = Field(
        default=60 * 1024,
        ge=4096,
        le=60 * 1024,
        description="Most bytes of a request's line and headers (414/431 past it; at most 60 KiB).",
    )
    backoffice_session_hours: float = Field(
        default=12.0, gt=0, description="Hours a backoffice sign-in lasts (sign-out ends it sooner)."
    )
    map_tiles_url: str | None = Field(
        default=None,
        description="Tile URL template of the backoffice's maps ({z}/{x}/{y}); none: an outline, offline.",
    )
    map_tiles_attribution: str = Field(
        default="", description="The credit the tile server asks for, shown on the map (text)."
    )
    export_pool_size: int = Field(
        default=2, ge=1, description="Exports streaming at once, on DuckDB connections of their own."
    )
    export_per_client: int = Field(
        default=1, ge=1, description="Exports one client address may stream at once (429 past it)."
    )
    send_timeout: float = Field(
        default=30.0, gt=0, description="Seconds a response may go without the client taking any of it."
    )

    explore_concurrency: int | None = Field(
        default=None,
        ge=1,
        description="Explore catalog and records requests handled at once (default: twice query_pool_size).",
    )
    explore_cache_mb: int = Field(
        default=64, ge=0, description="MiB of Explore records responses kept per version and query; 0: none."
    )

    @field_validator("query_memory_limit")
    @classmethod
    def _memory_size(cls, value: str) -> str:
        if not re.fullmatch(r"\d+(\.\d+)?\s*([KMGT]i?B|B)", value.strip(), re.IGNORECASE):
            raise ValueError("a size such as 128MB, 512MiB or 2GB")
        return value.strip()

    @field_validator("map_tiles_url")
    @classmethod
    def _tile_template(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not re.fullmatch(r"https?://\S+", value) or not all(
            part in value for part in ("{z}", "{x}", "{y}")
        ):
            raise ValueError(
                "an http(s) URL template with {z}, {x} and {y}, e.g. https://tiles.example/{z}/{x}/{y}.png"
            )
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        """Origins as browsers send them (``scheme://host[:port]``, lower case), or ``*`` alone."""
        if "*" in value:
            if len(value) > 1:
                raise ValueError("'*' allows every origin: give it alone, or list origins without it")
            return value
        origins = []
        for origin in value:
            normalized = origin.lower().removesuffix("/")
            if not re.fullmatch(r"https?://[^/?#@\s]+", normalized):
                raise ValueError(
                    f"{origin!r} is not an origin: write scheme://host[:port], e.g. https://example.org"
                )
            origins.append(normalized)
        return origins

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError(
                "DATAWHARF_TLS_CERT_FILE and DATAWHARF_TLS_KEY_FILE go together: set both to serve HTTPS, "
                "or neither to serve HTTP"
            )
        return self

    @field_validator("warehouse_url")
    @classmethod
    def _warehouse_url(cls, value: str | None) -> str | None:
        """Checked at start, so a typo stops every command instead of failing the first publish."""
        if not value or not value.strip():
            return None
        if not re.match(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^?#]*)?$", value.strip()):
            raise ValueError(
                f"DATAWHARF_WAREHOUSE_URL={value!r} is not an S3 warehouse URL: write s3://bucket or "
                "s3://bucket/prefix (the endpoint goes in DATAWHARF_WAREHOUSE_ENDPOINT_URL), or unset it "
                "for the local folder"
            )
        return value.strip()

    @field_validator("allowed_private_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @property
    def split_objects(self) -> int:
        """Objects per part of a publish spread over workers (0: never spread). On the threads backend
        the set's objects are already read on ``set_read_threads`` threads of the one process, so a
        split only pays off where parts go to other processes (procrastinate workers)."""
        if self.set_split_objects is not None:
            return self.set_split_objects
        return 200 if self.job_backend == "procrastinate" else 0

    @property
    def run_max_attempts(self) -> int:
        """Attempts a run gets. In-process (threads) runs are not retried by default: the process that
        died may have been killed by the publish itself (memory), and a retry at each restart would
        crash-loop the API server; a separate worker process (procrastinate) retries once."""
        if self.job_max_attempts is not None:
            return self.job_max_attempts
        return 2 if self.job_backend == "procrastinate" else 1

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'datawharf.db'}"

    @property
    def spreadsheet_limits(self) -> SpreadsheetLimits:
        """The ``DATAWHARF_SPREADSHEET_*`` settings, as the spreadsheet reader takes them."""
        return SpreadsheetLimits(
            max_cells=self.spreadsheet_max_cells,
            max_rows=self.spreadsheet_max_rows,
            max_member_bytes=self.spreadsheet_max_member_bytes,
            max_shared_strings_bytes=self.spreadsheet_max_shared_strings_bytes,
            max_memory_bytes=self.spreadsheet_max_memory,
            timeout_seconds=self.spreadsheet_timeout,
        )

    @property
    def warehouse_dir(self) -> Path:
        return self.home / "warehouse"

    @property
    def uses_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    def require_shared_secret_key(self) -> None:
        """Refuse a database other than SQLite without ``DATAWHARF_SECRET_KEY``.

        Such a database is meant to be shared by several processes, often on several machines: a key
        generated into each one's home folder would make the secrets one stored unreadable to the others
        (and backoffice sign-ins valid on one replica only).
        """
        if self.secret_key is None and not self.uses_sqlite:
            raise InvalidInput(
                "DATAWHARF_SECRET_KEY is required when DATAWHARF_DATABASE_URL is not SQLite: every process "
                "on that database must encrypt secrets with the same key. Generate one once with "
                'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())" '
                "and give that same value to every datawharf process.",
                error_code="secret_key_required",
            )

    @cached_property
    def fernet(self) -> Fernet:
        """The key that encrypts secrets at rest.

        A key generated per process would make yesterday's secrets unreadable, so when none is
        configured one is generated once into the home folder (SQLite only: see
        ``require_shared_secret_key``), readable by its owner only. (cryptography is imported here: a
        command that reads no secret, e.g. ``datasets list``, does not pay for it.)
        """
        from cryptography.fernet import Fernet

        if self.secret_key is not None:
            return Fernet(self.secret_key.get_secret_value().encode())
        self.require_shared_secret_key()
        return Fernet(read_or_create(self.home / "secret.key", Fernet.generate_key))
