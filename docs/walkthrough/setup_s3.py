"""README walk-through: a bucket, an object and an IAM user `reader` on a local moto_server (port 5055),
then IAM enforcement on. The admin's key is kept in a temp file for rotate_key.py."""

import json
import tempfile
import urllib.request
from pathlib import Path

import boto3

ADMIN_FILE = Path(tempfile.gettempdir()) / "datawharf-walkthrough-admin.json"
endpoint = "http://127.0.0.1:5055"


def client(service, key=("testing", "testing")):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key[0],
        aws_secret_access_key=key[1],
    )


iam = client("iam")
admin = iam.create_user(UserName="admin")
iam.put_user_policy(
    UserName="admin",
    PolicyName="all",
    PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    ),
)
ak = iam.create_access_key(UserName="admin")["AccessKey"]
iam.create_user(UserName="reader")
iam.put_user_policy(
    UserName="reader",
    PolicyName="read",
    PolicyDocument=json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}],
        }
    ),
)
rk = iam.create_access_key(UserName="reader")["AccessKey"]
s3 = client("s3")
s3.create_bucket(Bucket="fruits")
s3.put_object(Bucket="fruits", Key="2024/fruits.csv", Body=b"name,qty\napple,3\npear,5\n")
urllib.request.urlopen(
    urllib.request.Request(
        endpoint + "/moto-api/reset-auth", data=b"0", headers={"Content-Type": "text/plain"}
    )
)
ADMIN_FILE.write_text(json.dumps({"admin": [ak["AccessKeyId"], ak["SecretAccessKey"]]}))
print("reader access key id:", rk["AccessKeyId"])
print("reader secret:       ", rk["SecretAccessKey"])
