"""The real S3 server of the tests: ``moto_server`` as a subprocess on a free loopback port.

Two variants: an open server (any access key works) and one with IAM authentication enforced, where
only keys of IAM users created here work, and only for what their policies allow. The tests talk to
both over HTTP through the production code path; nothing is mocked in-process.

Enforcement is switched on with ``POST /moto-api/reset-auth`` (body ``0``: no more unauthenticated
requests), after an admin user exists: from then on the helpers here sign with that admin's keys.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
from botocore.config import Config

REGION = "us-east-1"
OPEN_KEY = ("testing", "testing")  # the open server accepts any key; these are not secrets


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _moto_command(port: int) -> list[str]:
    script = Path(sys.executable).with_name("moto_server")
    if script.exists():
        return [str(script), "-H", "127.0.0.1", "-p", str(port)]
    found = shutil.which("moto_server")
    if found:
        return [found, "-H", "127.0.0.1", "-p", str(port)]
    return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]


@dataclass
class MotoServer:
    """A running moto_server; ``endpoint_url`` is ``http://127.0.0.1:<port>``."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    access_key: tuple[str, str] = OPEN_KEY

    @property
    def host_port(self) -> str:
        """The ``host:port`` to list in ``DATAWHARF_ALLOWED_PRIVATE_HOSTS``."""
        return f"127.0.0.1:{self.port}"

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host_port}"

    def boto3_client(self, service: str = "s3", key: tuple[str, str] | None = None, *, pool: int = 10) -> Any:
        """A plain boto3 client for setting up test data (the code under test uses datawharf.s3);
        ``pool``: its connections, as many as the threads that share it to upload in parallel."""
        access_key_id, secret = key or self.access_key
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"mode": "standard", "max_attempts": 2},
                max_pool_connections=pool,
            ),
        )

    def create_bucket(self, name: str | None = None) -> str:
        name = name or f"test-{uuid.uuid4().hex[:12]}"
        self.boto3_client().create_bucket(Bucket=name)
        return name

    def put_object(self, bucket: str, key: str, body: bytes, **extra: Any) -> str:
        """Uploads ``body``; returns the new ETag (quoted, as S3 sends it)."""
        response = self.boto3_client().put_object(Bucket=bucket, Key=key, Body=body, **extra)
        return str(response["ETag"])

    def post(self, path: str, body: bytes, content_type: str = "text/plain") -> bytes:
        request = urllib.request.Request(
            self.endpoint_url + path, data=body, method="POST", headers={"Content-Type": content_type}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return bytes(response.read())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_moto_server(log_dir: Path, *, attempts: int = 3, timeout: float = 30.0) -> MotoServer:
    """Starts moto_server on a free port and waits until it answers; retries if the port was taken."""
    last_error = "never started"
    for _ in range(attempts):
        port = _free_port()
        log_path = log_dir / f"moto-{port}.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # The server must not pick up a developer's real AWS settings.
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            env.pop(name, None)
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                _moto_command(port), stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        server = MotoServer(process=process, port=port, log_path=log_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                last_error = (
                    f"exited with {process.returncode}: {log_path.read_text(errors='replace')[-2000:]}"
                )
                break
            try:
                with urllib.request.urlopen(server.endpoint_url + "/moto-api/", timeout=2) as response:
                    if response.status == 200:
                        return server
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                last_error = str(exc)
            time.sleep(0.1)
        server.stop()
    raise RuntimeError(f"moto_server did not start: {last_error}")


@dataclass(frozen=True)
class S3Bucket:
    """A fresh bucket on a test server, with helpers to fill it and to name its objects by URL."""

    server: MotoServer
    name: str

    def put(self, key: str, body: bytes, **extra: Any) -> str:
        """Uploads ``body`` under ``key``; returns the ETag (quoted)."""
        return self.server.put_object(self.name, key, body, **extra)

    def url(self, key: str = "") -> str:
        """The path-style URL of ``key`` (percent-encoded as a user would paste it)."""
        return f"{self.server.endpoint_url}/{self.name}/{quote(key, safe='/')}"


# --- IAM enforcement -------------------------------------------------------------------------------


@dataclass(frozen=True)
class IamUser:
    name: str
    arn: str
    access_key_id: str
    secret_access_key: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.access_key_id, self.secret_access_key)


ALLOW_ALL: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def allow(actions: list[str], resources: list[str]) -> dict[str, Any]:
    """A one-statement identity policy document."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resources}],
    }


@dataclass
class IamMotoServer(MotoServer):
    """A moto_server with IAM authentication enforced; ``admin`` may do anything."""

    admin: IamUser | None = None
    _users: dict[str, IamUser] = field(default_factory=dict)

    def create_user(self, name: str | None = None, policy: dict[str, Any] | None = None) -> IamUser:
        """An IAM user with an access key and, if given, one inline identity policy."""
        name = name or f"user-{uuid.uuid4().hex[:10]}"
        iam = self.boto3_client("iam")
        arn = iam.create_user(UserName=name)["User"]["Arn"]
        if policy is not None:
            iam.put_user_policy(UserName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy))
        created = iam.create_access_key(UserName=name)["AccessKey"]
        user = IamUser(name, arn, created["AccessKeyId"], created["SecretAccessKey"])
        self._users[name] = user
        return user


def start_iam_moto_server(log_dir: Path) -> IamMotoServer:
    """Starts a server, creates the admin user, then switches IAM enforcement on."""
    plain = start_moto_server(log_dir)
    server = IamMotoServer(process=plain.process, port=plain.port, log_path=plain.log_path)
    admin = server.create_user("admin", ALLOW_ALL)
    server.admin = admin
    server.access_key = admin.key
    server.post("/moto-api/reset-auth", b"0")
    return server
