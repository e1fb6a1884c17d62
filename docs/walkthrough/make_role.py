"""README walk-through: the role a customer creates in their AWS account, trusting datawharf's identity
with the connection's external ID, allowed to read one object. Prints the role's ARN.

    python make_role.py <trusted principal ARN> <external id>

The test server mishandles ``arn:aws:iam::<account>:root`` principals, so the trust policy names
datawharf's user ARN instead (on AWS, paste the connection's ``trust_policy`` as it is).
"""

import json
import sys
import uuid

from _walk import admin_client

trusted_arn, external_id = sys.argv[1], sys.argv[2]
iam = admin_client("iam")
trust = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": trusted_arn},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
        }
    ],
}
name = f"DatawharfReader-{uuid.uuid4().hex[:6]}"
role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
read_one = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::fruits/2024/fruits.csv"}
    ],
}
iam.put_role_policy(RoleName=name, PolicyName="read-fruits", PolicyDocument=json.dumps(read_one))
print(role["Arn"])
