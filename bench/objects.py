"""What a contender is, and the description of the object it reads (passed to its process as JSON).

Kept free of heavy imports: the child process of a contender imports this module, and whatever it
imports would count in that contender's peak RSS.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

#: localbucket checks no credentials; these stand for what a user would paste.
ACCESS_KEY = "bench"
SECRET_KEY = "bench-secret"
REGION = "us-east-1"


@dataclass(frozen=True)
class S3Object:
    """Everything a contender needs to read one object: what a user would paste into their three lines."""

    endpoint_url: str
    bucket: str
    key: str
    size: int
    rows: int
    format: str
    #: Bytes a reader parses (the uncompressed CSV of a .csv.gz); ``size`` otherwise.
    content_size: int
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = REGION

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def host_port(self) -> str:
        return self.endpoint_url.removeprefix("http://")

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> S3Object:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class Contender:
    """One tool doing one task. ``task`` is ``preview``, ``import`` or ``transport``."""

    tool: str
    task: str
    function: str
    formats: tuple[str, ...]
    preload: tuple[str, ...] = ()
    note: str = ""
    #: Packages in the bench's environment (for other contenders) that this tool does not depend on:
    #: hidden from its process, which then runs as the tool's own install would.
    absent: tuple[str, ...] = ()
