"""Fixtures shared by the whole suite. Add fixtures here; keep the machinery in tests/support/.

S3 (a real ``moto_server`` subprocess, one per pytest-xdist worker, see tests/support/moto.py):

- ``moto_server`` (session): an open S3/IAM/STS server on a free loopback port; any access key works.
  ``.endpoint_url`` (``http://127.0.0.1:<port>``), ``.host_port``, ``.boto3_client(service)``,
  ``.create_bucket()``, ``.put_object(bucket, key, body)``.
- ``s3_bucket``: a fresh, empty bucket on ``moto_server``: ``.name``, ``.put(key, body) -> etag``,
  ``.url(key)`` (its path-style URL), ``.server``.
- ``iam_moto_server`` (session): a second server with IAM authentication enforced. ``.admin`` may do
  anything (the helpers sign with it); ``.create_user(name=None, policy=None) -> IamUser`` makes a user
  with an access key (``.access_key_id``, ``.secret_access_key``, ``.arn``, ``.key``); ``allow(actions,
  resources)`` from tests.support.moto builds a policy document.
- ``settings``: ``Settings`` with ``home`` in ``tmp_path`` and ``allowed_private_hosts`` listing the
  ``moto_server`` (and nothing else: private addresses stay refused). ``iam_settings``: the same for
  ``iam_moto_server``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from datawharf.settings import Settings
from tests.support import reference
from tests.support.moto import (
    IamMotoServer,
    MotoServer,
    S3Bucket,
    start_iam_moto_server,
    start_moto_server,
)


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = start_moto_server(tmp_path_factory.mktemp("moto"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def iam_moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IamMotoServer]:
    server = start_iam_moto_server(tmp_path_factory.mktemp("moto-iam"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(moto_server: MotoServer) -> S3Bucket:
    return S3Bucket(moto_server, moto_server.create_bucket())


@pytest.fixture
def settings(tmp_path: Path, moto_server: MotoServer) -> Settings:
    return Settings(home=tmp_path / "home", allowed_private_hosts=[moto_server.host_port])


@pytest.fixture
def iam_settings(tmp_path: Path, iam_moto_server: IamMotoServer) -> Settings:
    return Settings(home=tmp_path / "home", allowed_private_hosts=[iam_moto_server.host_port])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fail a test whose clients received a 2xx management answer the reference refuses (all of them)."""
    reference.take_pending()
    result = yield
    received = reference.take_pending()
    if received:
        raise reference.ReferenceViolation("\n".join(str(violation) for violation in received))
    return result
