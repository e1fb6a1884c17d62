"""The reference API (Opendatasoft Automation API v1.0) as a checker of datawharf's answers.

``check_response(method, path, status, body)`` finds the reference operation of a management-API request
(method and path template) and validates a 2xx JSON body against the response schema it declares, with
date-times checked as RFC 3339 (a zone is required), and the OpenAPI ``discriminator`` followed to the
variant its mapping names (the reference puts it on base schemas, which plain JSON Schema ignores).

``conformance_hook`` is an httpx response hook doing that for every answer a test client receives: the
app's TestClient (tests/support/app.py) and the clients of ``datawharf serve`` subprocesses carry it, so
every API test is also a conformance test. The hook records violations in ``PENDING``; the
``pytest_runtest_call`` wrapper in tests/conftest.py fails the test that received them, with all of them
(raising in the hook would stop the test at its first, hiding the rest).

Where the reference itself is wrong, ``SLIPS`` patches it, each slip in one place with the reason.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

REFERENCE_NAME = "ods-automation-api-v1.0.openapi.json"
API_PREFIX = "/api/automation/v1.0"
_REPO = Path(__file__).resolve().parents[2]


def reference_path() -> Path:
    """The reference beside the repository (``../shared/reference``, as CI lays it), else /work/shared."""
    for shared in (_REPO.parent / "shared", Path("/work/shared")):
        candidate = shared / "reference" / REFERENCE_NAME
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{REFERENCE_NAME} not found under ../shared/reference or /work/shared/reference")


@dataclass(frozen=True)
class Slip:
    """A place where the reference contradicts itself or JSON Schema: ``pointer`` is patched to ``value``."""

    pointer: str
    value: Any
    reason: str


# Every slip of the reference that datawharf does not follow, with why. The closing notes quote this list.
SLIPS: tuple[Slip, ...] = (
    Slip(
        "/components/schemas/PaginatedResults/properties/total_count/type",
        "integer",
        "declared ['string', 'null'] while its own example is 18 and every page of the reference's "
        "examples counts with a number; datawharf answers an integer, as Opendatasoft does",
    ),
    Slip(
        "/components/responses/DatasetProcessingStatus/content/application~1json/schema/properties/"
        "is_published/type",
        ["null", "boolean"],
        "written [null, 'boolean'] (a JSON null, not the type name 'null'): not valid JSON Schema",
    ),
    Slip(
        "/components/schemas/Connection/properties/created_at/format",
        "date-time",
        "declared format 'date' while created_at is a date-time everywhere else in the reference "
        "(Dataset, APIKey, DatasetVersion); datawharf answers a date-time with its zone",
    ),
    Slip(
        "/components/schemas/Connection/properties/updated_at/format",
        "date-time",
        "as created_at: format 'date' where every other updated_at is a date-time",
    ),
    Slip(
        "/components/schemas/Extractor/properties/parameters/items/properties/default/type",
        ["string", "boolean", "integer", "number"],
        "declared a string for every parameter, while parameters are typed (type 'boolean', 'int') and "
        "the reference's own resource params are typed values (doublequote: true, first_row_no: 1); "
        "datawharf gives a default of the parameter's type, so it can be posted back as a param unchanged",
    ),
    Slip(
        "/components/responses/ResourcePreview/content/application~1json/schema/properties/fields/items/"
        "properties/annotations/items/properties/args/items/type",
        ["string", "integer"],
        "preview annotations' args declared strings only, while the annotate configuration that makes "
        "them declares ['string', 'integer'] (decimals takes a number); datawharf shows the args as given",
    ),
    Slip(
        "/components/schemas/AmazonS3Connection/allOf/1/properties/headers/items/properties/value/type",
        ["string", "null"],
        "header values are answered null: they carry secrets (tokens, request-payer keys), and the "
        "reference itself answers null for the other write-only secret, secret_access_key",
    ),
    Slip(
        "/components/schemas/AmazonS3Datasource/allOf/1/properties/headers/items/properties/value/type",
        ["string", "null"],
        "as the connection's headers: a resource's header values are write-only and answered null",
    ),
    Slip(
        "/components/schemas/AmazonS3Datasource/allOf/1/properties/connection/oneOf/0/properties/uid/type",
        ["string", "null"],
        "the reference has no datasource without a connection; datawharf reads public buckets "
        "anonymously and shows that as connection {'uid': null} (the datasource road keeps this form)",
    ),
)


# Where the reference uses a JSON Schema keyword that can never hold, the keyword is renamed.
RENAMED: tuple[Slip, ...] = (
    Slip(
        "/components/schemas/DatasetMetadataTemplate/oneOf",
        "anyOf",
        "a template's metadata is declared oneOf the five templates, whose variants exclude nothing (no "
        "required property but default's three, additional properties allowed): every body matches "
        "several, so oneOf fails on any answer; anyOf (one template's shape at least) is what it means",
    ),
)


def _patched(document: dict[str, Any]) -> dict[str, Any]:
    for slip in RENAMED:
        *parents, last = slip.pointer[1:].split("/")
        node: Any = document
        for part in parents:
            node = node[part]
        if last not in node:
            raise KeyError(f"slip {slip.pointer} names nothing in the reference: update RENAMED")
        node[slip.value] = node.pop(last)
    for slip in SLIPS:
        *parents, last = [part.replace("~1", "/").replace("~0", "~") for part in slip.pointer[1:].split("/")]
        node: Any = document
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if last not in node:
            raise KeyError(f"slip {slip.pointer} names nothing in the reference: update SLIPS")
        node[last] = slip.value
    return document


@cache
def reference() -> dict[str, Any]:
    return _patched(json.loads(reference_path().read_text()))


_in_progress = threading.local()


def _discriminator(
    validator: Any, discriminator: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[Any]:
    """Validate ``instance`` against the variant ``mapping`` names for its ``propertyName`` value.

    The variants ``allOf`` their base again; the (instance, variant) pair in progress stops that loop.
    """
    if not isinstance(instance, dict):
        return
    target = discriminator.get("mapping", {}).get(instance.get(discriminator["propertyName"]))
    if target is None:
        return
    active: set[tuple[int, str]] = _in_progress.__dict__.setdefault("active", set())
    key = (id(instance), target)
    if key in active:
        return
    active.add(key)
    try:
        yield from validator.descend(instance, {"$ref": target})
    finally:
        active.discard(key)


_OpenAPIValidator = validators.extend(Draft202012Validator, {"discriminator": _discriminator})


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    responses: dict[str, Any]


@cache
def _operations() -> tuple[Operation, ...]:
    found = []
    for template, item in reference()["paths"].items():
        regex = "[^/]+".join(re.escape(part) for part in re.split(r"\{[^}]+\}", template))
        for method, operation in item.items():
            if method in {"get", "post", "put", "delete", "patch"}:
                found.append(
                    Operation(method.upper(), template, re.compile(f"{regex}$"), operation["responses"])
                )
    # Fixed segments win over parameters (``/resources/preview/`` before ``/resources/{uid}/``).
    return tuple(sorted(found, key=lambda op: op.template.count("{")))


def find_operation(method: str, path: str) -> Operation | None:
    """The reference operation for a request path under ``/api/automation/v1.0`` (trailing slash added)."""
    if not path.startswith(API_PREFIX + "/"):
        return None
    relative = path[len(API_PREFIX) :]
    if not relative.endswith("/"):
        relative += "/"
    for operation in _operations():
        if operation.method == method.upper() and operation.pattern.match(relative):
            return operation
    return None


def response_schema(operation: Operation, status: int) -> dict[str, Any] | None:
    """A ``$ref`` into the reference to the JSON schema of this status' answer, if it declares one."""
    response = operation.responses.get(str(status))
    if response is None:
        return None
    pointer = "/".join(
        ["#/paths", _escape(operation.template), operation.method.lower(), "responses", str(status)]
    )
    if "$ref" in response:
        pointer = response["$ref"]
        response = _resolve(pointer)
    if "schema" not in response.get("content", {}).get("application/json", {}):
        return None
    return {"$ref": f"{_BASE}{pointer}/content/application~1json/schema"}


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _resolve(pointer: str) -> Any:
    node: Any = reference()
    for part in pointer.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


_BASE = "urn:ods-automation-v1.0"


@cache
def _registry() -> Registry:
    return Registry().with_resource(_BASE, Resource(contents=reference(), specification=DRAFT202012))


class ReferenceViolation(AssertionError):
    """A 2xx body that the reference's response schema refuses."""


def violations(schema: dict[str, Any], body: Any) -> list[ValidationError]:
    validator = _OpenAPIValidator(
        schema, registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    return sorted(validator.iter_errors(body), key=lambda error: list(error.absolute_path))


def check_response(method: str, path: str, status: int, body: Any) -> Operation | None:
    """Raise ``ReferenceViolation`` if a 2xx body breaks the reference; the operation checked, if any."""
    if not 200 <= status < 300:
        return None
    operation = find_operation(method, path)
    if operation is None:
        return None
    schema = response_schema(operation, status)
    if schema is None:
        return None
    errors = violations(schema, body)
    if errors:
        lines = [f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}" for e in errors]
        raise ReferenceViolation(
            f"{method} {path} -> {status} breaks the reference's {operation.method} {operation.template}:\n  "
            + "\n  ".join(lines[:20])
        )
    CHECKED.add((operation.method, operation.template))
    return operation


# The reference operations whose 2xx bodies were validated in this process (the coverage test reads it).
CHECKED: set[tuple[str, str]] = set()


# The violations received since the running test started (tests/conftest.py fails the test with them).
PENDING: list[ReferenceViolation] = []


def take_pending() -> list[ReferenceViolation]:
    taken = list(PENDING)
    PENDING.clear()
    return taken


def conformance_hook(response: httpx.Response) -> None:
    """An httpx response hook: validate a management-API 2xx JSON answer against the reference."""
    request = response.request
    if not request.url.path.startswith(API_PREFIX + "/"):
        return
    if not 200 <= response.status_code < 300:
        return
    if not response.headers.get("content-type", "").startswith("application/json"):
        return
    response.read()
    try:
        check_response(request.method, request.url.path, response.status_code, response.json())
    except ReferenceViolation as violation:
        PENDING.append(violation)


def install(client: httpx.Client) -> None:
    """Attach ``conformance_hook`` to ``client`` (idempotent)."""
    hooks = client.event_hooks
    if conformance_hook not in hooks["response"]:
        hooks["response"] = [*hooks["response"], conformance_hook]
