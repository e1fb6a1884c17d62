"""README walk-through: the IAM user datawharf itself runs as (its own AWS identity), allowed to assume
roles. Prints the environment variables that give it to datawharf through the AWS credential chain."""

import json

from _walk import admin_client

iam = admin_client("iam")
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
