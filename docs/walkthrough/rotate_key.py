"""README walk-through: a new access key for the IAM user ``reader`` (key rotation)."""

from _walk import admin_client

key = admin_client("iam").create_access_key(UserName="reader")["AccessKey"]
print(key["AccessKeyId"], key["SecretAccessKey"])
