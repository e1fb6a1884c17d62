"""README walk-through: the demo data on the S3 test server, then IAM enforcement on.

A bucket ``fruits`` with ``2024/fruits.csv`` (3 lines) and ``stations/stations 2024.csv``: 60 bike
stations around Paris, made here from a fixed seed (names, capacities, opening dates, "lat, lon"
positions), so every run publishes the same records. An admin user (its key kept for the scripts that
follow) and an IAM user ``reader`` allowed to read; the reader's key is printed. IAM enforcement is
turned on last: from then on only signed requests with a valid key and policy are served.
"""

import csv
import io
import json
import random
import time
import urllib.request
from datetime import date, timedelta

from _walk import ADMIN_FILE, ENDPOINT, client

STREETS = (
    "Rivoli", "Oberkampf", "Montorgueil", "Mouffetard", "Lepic", "Daguerre", "Cler", "Saint-Dominique",
    "Vaugirard", "Convention", "Tolbiac", "Alésia", "Lafayette", "Turbigo", "Réaumur", "Monge",
    "Belleville", "Ménilmontant", "Caulaincourt", "Cambronne",
)  # fmt: skip


def stations_csv() -> bytes:
    rng = random.Random(2024)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(["station_id", "name", "capacity", "opened", "xy"])
    for number in range(60):
        lat, lon = 48.8566 + rng.uniform(-0.05, 0.05), 2.3522 + rng.uniform(-0.08, 0.08)
        writer.writerow(
            [
                1001 + number * 7,
                f"{rng.randint(1, 150)} rue {STREETS[number % len(STREETS)]}",
                rng.choice((12, 16, 20, 24, 28, 32, 36, 40, 48, 60)),
                (date(2012, 1, 1) + timedelta(days=rng.randint(0, 4000))).isoformat(),
                f"{lat:.6f}, {lon:.6f}",
            ]
        )
    return out.getvalue().encode()


def wait_for_server() -> None:
    for _ in range(300):  # the server was started in the background just before
        try:
            urllib.request.urlopen(ENDPOINT + "/moto-api/", timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"The S3 test server at {ENDPOINT} did not answer within 30 s.")


def allow(actions: list[str]) -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
    )


wait_for_server()
iam = client("iam")
iam.create_user(UserName="admin")
iam.put_user_policy(UserName="admin", PolicyName="all", PolicyDocument=allow(["*"]))
admin_key = iam.create_access_key(UserName="admin")["AccessKey"]
iam.create_user(UserName="reader")
iam.put_user_policy(
    UserName="reader", PolicyName="read", PolicyDocument=allow(["s3:GetObject", "s3:ListBucket"])
)
reader_key = iam.create_access_key(UserName="reader")["AccessKey"]
s3 = client("s3")
s3.create_bucket(Bucket="fruits")
s3.put_object(Bucket="fruits", Key="2024/fruits.csv", Body=b"name,qty\napple,3\npear,5\n")
s3.put_object(Bucket="fruits", Key="stations/stations 2024.csv", Body=stations_csv())
enforce = urllib.request.Request(
    ENDPOINT + "/moto-api/reset-auth", data=b"0", headers={"Content-Type": "text/plain"}
)
urllib.request.urlopen(enforce)
ADMIN_FILE.write_text(json.dumps({"admin": [admin_key["AccessKeyId"], admin_key["SecretAccessKey"]]}))
print("reader access key id:", reader_key["AccessKeyId"])
print("reader secret:       ", reader_key["SecretAccessKey"])
