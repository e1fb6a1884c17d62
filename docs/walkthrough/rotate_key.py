"""README walk-through: a new access key for the IAM user `reader` (key rotation)."""

import json
import tempfile
from pathlib import Path

import boto3

ADMIN_FILE = Path(tempfile.gettempdir()) / "datawharf-walkthrough-admin.json"
admin = json.loads(ADMIN_FILE.read_text())["admin"]
iam = boto3.client(
    "iam",
    endpoint_url="http://127.0.0.1:5055",
    region_name="us-east-1",
    aws_access_key_id=admin[0],
    aws_secret_access_key=admin[1],
)
key = iam.create_access_key(UserName="reader")["AccessKey"]
print(key["AccessKeyId"], key["SecretAccessKey"])
