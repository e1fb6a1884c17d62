"""Issue 12 item 3: a connection's credentials and headers go only to its own endpoint, bucket and prefix.

The attacks name a saved connection by uid and give a URL elsewhere (another host, port or scheme, the
same host but another bucket, a key prefix escape, ``s3://`` or virtual-hosted forms), on every route
that takes a datasource: the unsaved preview and guesses, resource create and update, the saved
resource's preview, guesses and publish (a URL stored before the rule existed), the backoffice wizard
and the CLI. Each must be a 400 ``url_outside_connection`` before any request, and the stand-in
"elsewhere" server (allowed as a private host, so only the scope rule can stop the request) must receive
nothing. A low-permission key (``create_dataset`` + ``edit_dataset``) may not use the admin's
connection at all; nobody may give a non-reusable connection to a new datasource.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from datawharf.store.db import open_database
from datawharf.store.models import new_uid
from datawharf.store.models.datasets import Resource
from tests.hostile.conftest import serve_hostile
from tests.support.app import BOOTSTRAP_KEY, make_settings
from tests.support.hostile import API, HostileServer, attack, error_code
from tests.support.listener import RecordingListener, recording_listener
from tests.support.moto import MotoServer

KEY = {
    "access_key_id": "AKIAIOSFODNN7EXAMPLE",
    "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
}
HEADER_SECRET = "header-secret-0f3c9a7e5b"
CSV = b"name,qty\napple,3\npear,5\n"
SECRET_CSV = b"card,owner\n4111111111111111,admin\n"
MAX_SECONDS = 5.0
RSS_BUDGET_MIB = 512


@dataclass
class World:
    server: HostileServer
    moto: MotoServer
    elsewhere: RecordingListener
    bucket: str  # the connection's bucket; its URL is <moto>/<bucket>/data/
    other: str  # another bucket on the same endpoint, holding a secret
    connection: str  # the admin's reusable connection
    single: str  # a non-reusable connection
    low_key: str  # create_dataset + edit_dataset only
    dataset: str
    resource: str  # a legitimate resource: data/fruits.csv through the connection

    def escapes(self) -> dict[str, str]:
        """Every way tried of pointing the connection elsewhere, by name."""
        moto, port = self.moto.endpoint_url, self.moto.host_port.rsplit(":", 1)[1]
        away = self.elsewhere
        return {
            "other_port": f"{away.url}/{self.bucket}/data/fruits.csv",
            "other_host": f"http://localhost:{away.port}/{self.bucket}/data/fruits.csv",
            "other_scheme": f"https://127.0.0.1:{port}/{self.bucket}/data/fruits.csv",
            "aws_host": f"https://{self.bucket}.s3.eu-west-3.amazonaws.com/data/fruits.csv",
            "other_bucket": f"{moto}/{self.other}/secret.csv",
            "s3_scheme_other_bucket": f"s3://{self.other}/secret.csv",
            "virtual_hosted_other_bucket": f"http://{self.other}.localhost:{port}/secret.csv",
            "virtual_hosted_elsewhere": f"http://{self.bucket}.s3.localhost:{away.port}/data/fruits.csv",
            "relative_dotdot_bucket": f"../../{self.other}/secret.csv",
            "relative_dotdot_prefix": "../secret.csv",
            "relative_encoded_dotdot": "%2e%2e/secret.csv",
            "absolute_dotdot": f"{moto}/{self.bucket}/data/../secret.csv",
            "absolute_encoded_dotdot": f"{moto}/{self.bucket}/data/%2E%2E/%2e%2e/{self.other}/secret.csv",
            "encoded_slash_dotdot": f"{moto}/{self.bucket}/data%2F..%2Fsecret.csv",
            "other_prefix": f"{moto}/{self.bucket}/private/x.csv",
            "prefix_lookalike": f"{moto}/{self.bucket}/database/x.csv",
        }

    def datasource(self, url: str, connection: str | None = None) -> dict[str, Any]:
        return {"type": "amazon_s3", "url": url, "connection": {"uid": connection or self.connection}}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, moto_server: MotoServer) -> Iterator[World]:
    with recording_listener() as elsewhere:
        allowed = f"{moto_server.host_port},{elsewhere.host_port},localhost:{elsewhere.port}"
        home = tmp_path_factory.mktemp("secret-scope") / "home"
        with (
            serve_hostile(home, moto_server, {"DATAWHARF_ALLOWED_PRIVATE_HOSTS": allowed}) as server,
            server.client() as admin,
        ):
            bucket, other = moto_server.create_bucket(), moto_server.create_bucket()
            moto_server.put_object(bucket, "data/fruits.csv", CSV)
            moto_server.put_object(bucket, "secret.csv", SECRET_CSV)
            moto_server.put_object(bucket, "private/x.csv", SECRET_CSV)
            moto_server.put_object(other, "secret.csv", SECRET_CSV)

            def connection(**extra: Any) -> str:
                body = {
                    "type": "amazon_s3",
                    "title": "admin's",
                    "url": f"{moto_server.endpoint_url}/{bucket}/data/",
                    "headers": [{"name": "x-datawharf-probe", "value": HEADER_SECRET}],
                    "auth": {"type": "aws_signature_v4", **KEY, "region": "us-east-1"},
                    **extra,
                }
                created = admin.post(f"{API}/datasource_connections/", json=body)
                assert created.status_code == 201, created.text
                return str(created.json()["uid"])

            reusable, single = connection(), connection(is_reusable=False)
            key = admin.post(
                f"{API}/apikeys/", json={"label": "low", "permissions": ["create_dataset", "edit_dataset"]}
            )
            assert key.status_code == 201, key.text
            dataset = admin.post(
                f"{API}/datasets/", json={"metadata": {"default": {"title": {"value": "S"}}}}
            )
            assert dataset.status_code == 201, dataset.text
            resource = admin.post(
                f"{API}/datasets/{dataset.json()['uid']}/resources/",
                json={
                    "type": "csvfile",
                    "title": "fruits",
                    "datasource": {"type": "amazon_s3", "url": "fruits.csv", "connection": {"uid": reusable}},
                },
            )
            assert resource.status_code == 201, resource.text
            yield World(
                server,
                moto_server,
                elsewhere,
                bucket,
                other,
                reusable,
                single,
                str(key.json()["key"]),
                str(dataset.json()["uid"]),
                str(resource.json()["uid"]),
            )


def low_client(world: World) -> httpx.Client:
    return httpx.Client(
        base_url=world.server.base_url, headers={"Authorization": f"apikey {world.low_key}"}, timeout=30.0
    )


def refused(
    world: World,
    name: str,
    send: Any,
    *,
    status: int = 400,
    code: str = "url_outside_connection",
) -> httpx.Response:
    """One attack: ``send()`` answers ``status``/``code``, without a secret, within bounds; nothing
    reached the elsewhere server."""
    before = len(world.elsewhere.received)
    with attack(world.server, name, max_seconds=MAX_SECONDS, rss_budget_mib=RSS_BUDGET_MIB) as record:
        response = send()
        record.notes.update({"status": response.status_code, "error_code": error_code(response)})
    assert (response.status_code, error_code(response)) == (status, code), (name, response.text)
    assert KEY["secret_access_key"] not in response.text and HEADER_SECRET not in response.text
    assert len(world.elsewhere.received) == before, world.elsewhere.received
    return response


def test_the_connection_works_where_it_belongs(world: World) -> None:
    """The control: under its URL, relative or absolute, the connection reads (so the refusals below are
    the scope rule's, not a broken connection's)."""
    with world.server.client() as admin:
        for url in ("fruits.csv", f"{world.moto.endpoint_url}/{world.bucket}/data/fruits.csv"):
            body = {"datasource": world.datasource(url)}
            ok = admin.post(f"{API}/datasets/{world.dataset}/resources/preview/", json=body)
            assert ok.status_code == 200, ok.text
            assert ok.json()["records"][0]["name"] == "apple"
        saved = admin.get(f"{API}/datasets/{world.dataset}/resources/{world.resource}/preview/")
        assert saved.status_code == 200, saved.text
    assert world.elsewhere.received == []


UNSAVED_ROUTES = {
    "preview": {},
    "guess_extractors": {},
    "guess_extractor_params": {"type": "csvfile"},
}


@pytest.mark.parametrize("route", sorted(UNSAVED_ROUTES))
def test_unsaved_routes_refuse_every_escape(world: World, route: str) -> None:
    with world.server.client() as admin:
        for name, url in world.escapes().items():
            body = {"datasource": world.datasource(url), **UNSAVED_ROUTES[route]}
            path = f"{API}/datasets/{world.dataset}/resources/{route}/"
            refused(world, f"secret_scope.{route}.{name}", lambda p=path, b=body: admin.post(p, json=b))


def test_resource_create_and_update_refuse_every_escape(world: World) -> None:
    route = f"{API}/datasets/{world.dataset}/resources/"
    with world.server.client() as admin:
        for name, url in world.escapes().items():
            body = {"type": "csvfile", "title": "x", "datasource": world.datasource(url)}
            refused(world, f"secret_scope.create.{name}", lambda b=body: admin.post(route, json=b))
            refused(
                world,
                f"secret_scope.update.{name}",
                lambda b=body: admin.put(f"{route}{world.resource}/", json=b),
            )
        listed = admin.get(route).json()
        assert listed["total_count"] == 1  # nothing was saved
        assert listed["results"][0]["datasource"]["url"] == "fruits.csv"  # nor changed


def test_validating_a_connection_elsewhere_is_refused(world: World) -> None:
    route = f"{API}/datasource_connections/{world.connection}/validate/"
    with world.server.client() as admin:
        for name, url in world.escapes().items():
            refused(
                world,
                f"secret_scope.validate.{name}",
                lambda u=url: admin.post(route, params={"url": u}),
            )
        inside = admin.post(route, params={"url": "fruits.csv"})
        assert inside.status_code == 200 and inside.json()["validation"]["is_valid"], inside.text


def test_a_url_stored_before_the_rule_is_refused_at_use(world: World) -> None:
    """A resource whose URL points elsewhere, written straight to the database (as one saved before the
    rule existed): its preview, guesses and publish all refuse it before any request."""
    settings = make_settings(world.server.home)
    database = open_database(settings)
    with world.server.client() as admin:
        created = admin.post(f"{API}/datasets/", json={"metadata": {"default": {"title": {"value": "Old"}}}})
        dataset = created.json()["uid"]
    uid = new_uid("re")
    try:
        with database.session() as session:
            session.add(
                Resource(
                    uid=uid,
                    dataset_uid=dataset,
                    position=1,
                    type="csvfile",
                    title="stored before",
                    params={},
                    datasource=world.datasource(world.escapes()["other_port"]),
                    connection_uid=world.connection,
                )
            )
    finally:
        database.dispose()
    base = f"{API}/datasets/{dataset}/resources/{uid}"
    with world.server.client() as admin:
        refused(world, "secret_scope.stored.preview", lambda: admin.get(f"{base}/preview/"))
        refused(world, "secret_scope.stored.guess_extractors", lambda: admin.get(f"{base}/guess_extractors/"))
        refused(
            world,
            "secret_scope.stored.guess_extractors_params",
            lambda: admin.get(f"{base}/guess_extractors_params/"),
        )
        with attack(world.server, "secret_scope.stored.publish", max_seconds=30.0) as record:
            started = admin.post(f"{API}/datasets/{dataset}/publish/")
            assert started.status_code == 200, started.text
            deadline = time.monotonic() + 25
            status = admin.get(f"{API}/datasets/{dataset}/status/").json()
            while status["status"] not in ("idle", "error") and time.monotonic() < deadline:
                time.sleep(0.1)
                status = admin.get(f"{API}/datasets/{dataset}/status/").json()
            record.notes.update({"status": status["status"], "message": status["message"]})
    assert status["status"] == "error", status
    assert "is outside the connection" in status["message"]
    assert world.elsewhere.received == []


def test_low_permission_key_cannot_use_the_admins_connection(world: World) -> None:
    inside = world.datasource("fruits.csv")
    escape = world.datasource(f"{world.moto.endpoint_url}/{world.other}/secret.csv")
    route = f"{API}/datasets/{world.dataset}/resources"
    with low_client(world) as low:
        assert low.get(f"{API}/datasource_connections/").status_code == 403
        for name, datasource in (("inside", inside), ("other_bucket", escape)):
            for unsaved in ("preview", "guess_extractors"):
                refused(
                    world,
                    f"secret_scope.low_key.{unsaved}.{name}",
                    lambda u=unsaved, d=datasource: low.post(f"{route}/{u}/", json={"datasource": d}),
                    status=403,
                    code="connection_not_allowed",
                )
            body = {"type": "csvfile", "title": "x", "datasource": datasource}
            refused(
                world,
                f"secret_scope.low_key.create.{name}",
                lambda b=body: low.post(f"{route}/", json=b),
                status=403,
                code="connection_not_allowed",
            )
        # Keeping the resource's connection but pointing it at another object is a new use of it.
        for name, url in (("moved_inside", "other.csv"), ("moved_other_bucket", escape["url"])):
            body = {"type": "csvfile", "title": "x", "datasource": world.datasource(url)}
            refused(
                world,
                f"secret_scope.low_key.update.{name}",
                lambda b=body: low.put(f"{route}/{world.resource}/", json=b),
                status=403,
                code="connection_not_allowed",
            )
        unknown = {"datasource": world.datasource("fruits.csv", connection="co_doesnotexist")}
        refused(  # the same answer whether the uid exists or not: no way to probe for connections
            world,
            "secret_scope.low_key.unknown_uid",
            lambda: low.post(f"{route}/preview/", json=unknown),
            status=403,
            code="connection_not_allowed",
        )
        # What the key may do: edit the dataset's resource keeping its connection and URL (PUT back what
        # it read), preview it, and read through a connection of its own, given inline.
        current = low.get(f"{route}/{world.resource}/").json()
        kept = low.put(
            f"{route}/{world.resource}/",
            json={"type": "csvfile", "title": "renamed", "datasource": current["datasource"]},
        )
        assert kept.status_code == 200, kept.text
        assert low.get(f"{route}/{world.resource}/preview/").status_code == 200
        own = {
            "type": "amazon_s3",
            "url": "fruits.csv",
            "connection": {
                "type": "amazon_s3",
                "url": f"{world.moto.endpoint_url}/{world.bucket}/data/",
                "auth": {"type": "aws_signature_v4", **KEY, "region": "us-east-1"},
            },
        }
        inline = low.post(f"{route}/preview/", json={"datasource": own})
        assert inline.status_code == 200, inline.text
    assert world.elsewhere.received == []


def test_a_non_reusable_connection_serves_no_new_datasource(world: World) -> None:
    route = f"{API}/datasets/{world.dataset}/resources"
    datasource = world.datasource("fruits.csv", connection=world.single)
    with world.server.client() as admin:
        refused(
            world,
            "secret_scope.non_reusable.preview",
            lambda: admin.post(f"{route}/preview/", json={"datasource": datasource}),
            code="connection_not_reusable",
        )
        refused(
            world,
            "secret_scope.non_reusable.create",
            lambda: admin.post(f"{route}/", json={"type": "csvfile", "title": "x", "datasource": datasource}),
            code="connection_not_reusable",
        )
        listed = admin.get(f"{API}/datasource_connections/").json()["results"]
        reuse = {row["uid"]: (row["is_reusable"], row["can_reuse"]) for row in listed}
        assert reuse[world.connection] == (True, True) and reuse[world.single] == (False, False)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def test_the_wizard_refuses_every_escape(world: World) -> None:
    with httpx.Client(base_url=world.server.base_url, timeout=30.0) as browser:
        form = browser.get("/backoffice/sign-in")
        signed = browser.post(
            "/backoffice/sign-in",
            data={"api_key": BOOTSTRAP_KEY, "csrf_token": _csrf(form.text), "next": "/backoffice/"},
        )
        assert signed.status_code in (200, 303), signed.text
        token = _csrf(browser.get(f"/backoffice/datasets/new/amazon-s3?dataset={world.dataset}").text)
        for name, url in world.escapes().items():
            chosen = {"connection": world.connection, "file_url": url, "dataset": world.dataset}
            answer = refused_page(
                world,
                f"secret_scope.wizard.choose.{name}",
                lambda c=chosen: browser.post(
                    "/backoffice/datasets/new/amazon-s3", data={**c, "csrf_token": token}
                ),
            )
            assert answer.status_code == 400
            query = {"connection": world.connection, "url": url, "dataset": world.dataset}
            refused_page(
                world,
                f"secret_scope.wizard.preview.{name}",
                lambda q=query: browser.post(
                    "/backoffice/datasets/new/preview", data={**q, "csrf_token": token}
                ),
            )
            saved = {"connection": world.connection, "url": url, "type": "csvfile", "dataset": world.dataset}
            refused_page(
                world,
                f"secret_scope.wizard.save.{name}",
                lambda s=saved: browser.post(
                    "/backoffice/datasets/new/save", data={**s, "csrf_token": token}
                ),
            )
    with world.server.client() as admin:
        assert admin.get(f"{API}/datasets/{world.dataset}/resources/").json()["total_count"] == 1


def refused_page(world: World, name: str, send: Any) -> httpx.Response:
    """A backoffice attack: the page says the URL is outside the connection; nothing went elsewhere."""
    before = len(world.elsewhere.received)
    with attack(world.server, name, max_seconds=MAX_SECONDS, rss_budget_mib=RSS_BUDGET_MIB) as record:
        response = send()
        record.notes.update({"status": response.status_code})
    assert "is outside the connection" in response.text, (name, response.status_code, response.text[:300])
    assert KEY["secret_access_key"] not in response.text and HEADER_SECRET not in response.text
    assert len(world.elsewhere.received) == before, world.elsewhere.received
    return response


def test_the_cli_refuses_every_escape(world: World) -> None:
    """``datawharf preview`` and ``datawharf datasets create`` on the server's home: the operator holds every
    permission, and still the connection goes nowhere else."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATAWHARF_", "AWS_"))}
    env.update({"DATAWHARF_HOME": str(world.server.home), "COLUMNS": "200"})
    env["DATAWHARF_ALLOWED_PRIVATE_HOSTS"] = f"{world.moto.host_port},{world.elsewhere.host_port}"
    for name in ("other_port", "other_bucket", "relative_encoded_dotdot", "s3_scheme_other_bucket"):
        url = world.escapes()[name]
        for command in (
            ["preview", "--connection", world.connection, url],
            ["datasets", "create", "--title", "cli", "--connection", world.connection, url],
        ):
            started = time.monotonic()
            done = subprocess.run(
                [sys.executable, "-m", "datawharf", *command],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            seconds = time.monotonic() - started
            assert done.returncode == 1, (command, done.stdout, done.stderr)
            assert "[url_outside_connection]" in done.stderr, done.stderr
            assert KEY["secret_access_key"] not in done.stderr + done.stdout
            assert seconds < 30
    assert world.elsewhere.received == []


def test_saved_and_wizard_previews_probe_with_one_get(world: World) -> None:
    """Issue 13: every preview takes the unsaved preview's road, one ranged GET and no HEAD. Here the
    listener is a connection's own endpoint, so it may (and must) receive the connection's header."""
    with world.server.client() as admin:
        created = admin.post(
            f"{API}/datasource_connections/",
            json={
                "type": "amazon_s3",
                "url": f"{world.elsewhere.url}/listener/",
                "headers": [{"name": "x-datawharf-probe", "value": HEADER_SECRET}],
                "auth": {"type": "aws_signature_v4", **KEY, "region": "us-east-1"},
            },
        )
        assert created.status_code == 201, created.text
        uid = created.json()["uid"]
        body = {"type": "csvfile", "title": "p", "datasource": world.datasource("probe.csv", connection=uid)}
        resource = admin.post(f"{API}/datasets/{world.dataset}/resources/", json=body)
        assert resource.status_code == 201, resource.text
        route = f"{API}/datasets/{world.dataset}/resources/{resource.json()['uid']}"
        for name, path in (
            ("preview", f"{route}/preview/"),
            ("guess_extractors", f"{route}/guess_extractors/"),
            ("guess_extractors_params", f"{route}/guess_extractors_params/"),
        ):
            before = len(world.elsewhere.received)
            answer = admin.get(path)
            assert answer.status_code == 200, (name, answer.text)
            sent = world.elsewhere.received[before:]
            assert [(r.method, r.path) for r in sent] == [("GET", "/listener/probe.csv")], (name, sent)
            headers = {k.lower(): v for k, v in sent[0].headers.items()}
            assert headers["x-datawharf-probe"] == HEADER_SECRET and headers["range"].startswith("bytes=0-")
        admin.delete(route + "/")
    with httpx.Client(base_url=world.server.base_url, timeout=30.0) as browser:
        form = browser.get("/backoffice/sign-in")
        browser.post(
            "/backoffice/sign-in",
            data={"api_key": BOOTSTRAP_KEY, "csrf_token": _csrf(form.text), "next": "/backoffice/"},
        )
        token = _csrf(browser.get("/backoffice/datasets/new/amazon-s3").text)
        before = len(world.elsewhere.received)
        page = browser.post(
            "/backoffice/datasets/new/preview",
            data={"connection": uid, "url": "probe.csv", "csrf_token": token},
        )
        assert page.status_code == 200 and "leaked" in page.text, page.text[:300]
        sent = world.elsewhere.received[before:]
        assert [(r.method, r.path) for r in sent] == [("GET", "/listener/probe.csv")], sent


def test_a_stored_header_value_does_not_follow_the_datasource_elsewhere(world: World) -> None:
    """A resource's own header values are write-only and kept on update when sent back as ``null``; but
    only where they were given: moving the datasource (to no connection and another host) must not take
    the stored value along."""
    token = "resource-token-7d1e44b0c2"
    with world.server.client() as admin:
        created = admin.post(f"{API}/datasets/", json={"metadata": {"default": {"title": {"value": "H"}}}})
        route = f"{API}/datasets/{created.json()['uid']}/resources/"
        datasource = {
            **world.datasource("fruits.csv"),
            "headers": [{"name": "x-resource-token", "value": token}],
        }
        resource = admin.post(route, json={"type": "csvfile", "title": "h", "datasource": datasource})
        assert resource.status_code == 201, resource.text
        uid = resource.json()["uid"]
        read_back = resource.json()["datasource"]
        assert read_back["headers"] == [{"name": "x-resource-token", "value": None}]
        moved = {**read_back, "url": world.escapes()["other_port"], "connection": {"uid": None}}
        body = {"type": "csvfile", "title": "h", "datasource": moved}
        with low_client(world) as low:
            for name, client in (("admin", admin), ("low_key", low)):
                refused(
                    world,
                    f"secret_scope.kept_header.{name}",
                    lambda c=client: c.put(f"{route}{uid}/", json=body),
                    code="missing_header_value",
                )
        kept = admin.put(f"{route}{uid}/", json={"type": "csvfile", "title": "h", "datasource": read_back})
        assert kept.status_code == 200, kept.text
        assert admin.get(f"{route}{uid}/preview/").status_code == 200
    assert token not in "".join(str(r.headers) for r in world.elsewhere.received)
