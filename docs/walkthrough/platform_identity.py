"""README walk-through: the IAM user datawharf itself runs as (its own AWS identity), allowed to assume
roles. Prints the environment variables that give it to datawharf through the AWS credential chain."""

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
user = iam.create_user(UserName="datawharf")["User"]
policy = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:GetCallerIdentity"], "Resource": "*"}
    ],
}
iam.put_user_policy(UserName="datawharf", PolicyName="assume-roles", PolicyDocument=json.dumps(policy))
key = iam.create_access_key(UserName="datawharf")["AccessKey"]
print(f"# {user['Arn']}")
print(f"export AWS_ACCESS_KEY_ID={key['AccessKeyId']}")
print(f"export AWS_SECRET_ACCESS_KEY={key['SecretAccessKey']}")
