"""What the walk-through's scripts share: the S3 test server's address and its admin's clients.

The server is ``S3_ENDPOINT_URL`` (default ``http://127.0.0.1:5055``, the README's); the admin's key,
made by ``setup_s3.py``, is kept in a file of the temporary folder for the scripts that come after.
"""

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import boto3

ENDPOINT = os.environ.get("S3_ENDPOINT_URL", "http://127.0.0.1:5055")
ADMIN_FILE = Path(tempfile.gettempdir()) / "datawharf-walkthrough-admin.json"


def client(service: str, key: tuple[str, str] = ("testing", "testing")) -> Any:
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=key[0],
        aws_secret_access_key=key[1],
    )


def admin_client(service: str) -> Any:
    """A client signed by the admin user: once IAM is enforced, the default key is refused."""
    access_key_id, secret = json.loads(ADMIN_FILE.read_text())["admin"]
    return client(service, (access_key_id, secret))
