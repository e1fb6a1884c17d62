"""schemathesis against datawharf's own ``/openapi.json``, on the ASGI app: generated requests to every
management route must never get a 5xx, every answer must match the schema the route declares, and every
2xx answer the reference's schema too (the same checker the API tests use, tests/support/reference.py).

Bounded (a few examples per operation) so the whole file takes about a minute. The routes that would make
requests to the S3 host in the body (creating, updating or validating a connection) are left out: a
generated URL would be looked up on the internet; their answers are covered by the API tests, whose
every 2xx body is checked against the reference (tests/support/reference.py).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import response_schema_conformance

from datawharf.api.app import create_app
from tests.support import reference
from tests.support.app import AUTH, make_settings

API = "/api/automation/v1.0"
REACHES_S3_HOSTS = {
    ("POST", f"{API}/datasource_connections/"),
    ("PUT", f"{API}/datasource_connections/{{connection_uid}}/"),
    ("POST", f"{API}/datasource_connections/{{connection_uid}}/validate/"),
}


# Built at import: schemathesis makes one test per operation at collection. Nothing starts here: the
# app's lifespan (database, runtime) starts at the first generated request and stops after the module.
_HOME = tempfile.TemporaryDirectory(prefix="datawharf-fuzz-")
APP = create_app(make_settings(Path(_HOME.name)))
schema = (
    schemathesis.openapi.from_dict(APP.openapi())
    .include(path_regex=f"^{API}/")
    .exclude(func=lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in REACHES_S3_HOSTS)
)
schema.app = APP  # requests go to the ASGI app in-process


@pytest.fixture(scope="module", autouse=True)
def _stop_the_app() -> Iterator[None]:
    yield
    shutdown_lifespans()  # schemathesis started the app's lifespan at its first request
    _HOME.cleanup()


def reference_conformance(ctx: object, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """A 2xx JSON answer in the reference's shape (raises ``ReferenceViolation`` otherwise)."""
    if 200 <= response.status_code < 300 and response.content:
        reference.check_response(case.method, case.formatted_path, response.status_code, response.json())


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_and_every_answer_as_declared(case: schemathesis.Case) -> None:
    case.call_and_validate(
        headers=AUTH, checks=[not_a_server_error, response_schema_conformance, reference_conformance]
    )


def test_the_fuzzed_routes_are_the_management_api() -> None:
    operations = {(result.ok().method.upper(), result.ok().path) for result in schema.get_all_operations()}
    assert len(operations) >= 40
    assert all(path.startswith(API) for _, path in operations)
    assert not operations & REACHES_S3_HOSTS
