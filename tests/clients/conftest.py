"""Real Opendatasoft clients against a real ``datawharf serve``: the harness of issue 15's "Done means".

``scripts/install-clients`` puts the clients in their own environments (``.venv-clients/`` for the Python
ones, ``tests/clients/npm/node_modules`` for the npm ones). Each client gets a driver under
``drivers/``, run once a module in the client's own interpreter (Python >= 3.12 or node): it calls every
public function the client offers against the server and writes one outcome a call (its value, or the
error the client raised) to a JSON file; the tests compare each value with the published data.

- ``portal`` (session): a ``datawharf serve`` over HTTPS (a trustme CA the clients are told to trust:
  ``SSL_CERT_FILE``, ``REQUESTS_CA_BUNDLE``, ``NODE_EXTRA_CA_CERTS``; both Automation API wrappers only
  build ``https://`` URLs), holding two datasets published from the moto S3 server: ``cities`` (the
  ``tests.support.explore`` rows) and ``bikes`` (the first ten of them, keyword ``bike``).
- ``scratch_dataset(name, publish=False)``: a restricted dataset with a CSV resource (the first ten rows),
  for a client's writes: restricted, it stays out of the public catalog the other modules compare.
- ``run_driver(driver, plan, env)``: the outcomes of a driver run (``driver``: a path under
  tests/clients/, ``drivers/*.py`` in the clients' Python, ``npm/*.mjs`` in node).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import browser  # noqa: F401 - the browser fixture, for test_widgets
from tests.support import reference
from tests.support.app import AUTH, BOOTSTRAP_KEY
from tests.support.explore import ROWS, csv_bytes, publish_csv
from tests.support.moto import MotoServer
from tests.support.processes import datawharf_serve
from tests.support.tls import TlsFiles, make_tls_files

ROOT = Path(__file__).resolve().parents[2]
CLIENTS_PYTHON = ROOT / ".venv-clients" / "bin" / "python"
NODE_MODULES = ROOT / "tests" / "clients" / "npm" / "node_modules"
HERE = Path(__file__).resolve().parent
BIKE_ROWS = ROWS[:10]
DRIVER_TIMEOUT = 300.0


@dataclass(frozen=True)
class Portal:
    base_url: str  # https://127.0.0.1:<port>
    host: str  # 127.0.0.1:<port>, what the clients call the "domain"
    tls: TlsFiles
    moto: MotoServer
    bucket: str
    cities: dict[str, Any]  # the dataset as the management API returns it
    bikes: dict[str, Any]

    def client(self) -> httpx.Client:
        """The test's own client: its 2xx management answers are checked against the reference."""
        client = httpx.Client(base_url=self.base_url, verify=self.tls.trusting_context(), timeout=60.0)
        reference.install(client)
        return client


@dataclass(frozen=True)
class Outcome:
    value: Any
    error: str | None


class Outcomes:
    """What each call of a driver run gave: ``value(name)`` fails the test with the client's own error."""

    def __init__(self, raw: dict[str, dict[str, Any]]) -> None:
        self.raw = raw

    def value(self, name: str) -> Any:
        assert name in self.raw, f"the driver made no call named {name!r}: {sorted(self.raw)}"
        outcome = self.raw[name]
        assert outcome["error"] is None, f"{name} failed in the client: {outcome['error']}"
        return outcome["value"]


@pytest.fixture(scope="session")
def installed_clients() -> None:
    """Runs ``scripts/install-clients`` (cached: a no-op without network once it ran)."""
    result = subprocess.run(
        [str(ROOT / "scripts" / "install-clients")], capture_output=True, text=True, timeout=1200
    )
    if result.returncode != 0:
        pytest.fail(f"scripts/install-clients failed:\n{result.stdout}\n{result.stderr}")


@pytest.fixture(scope="session")
def portal(tmp_path_factory: pytest.TempPathFactory, moto_server: MotoServer) -> Iterator[Portal]:
    tls = make_tls_files(tmp_path_factory.mktemp("clients-tls"))
    home = tmp_path_factory.mktemp("clients-serve") / "home"
    env = {
        "DATAWHARF_BOOTSTRAP_API_KEY": BOOTSTRAP_KEY,
        "DATAWHARF_ALLOWED_PRIVATE_HOSTS": moto_server.host_port,
        **tls.env(),
    }
    bucket = moto_server.create_bucket()
    with datawharf_serve(home, env, verify=tls.trusting_context()) as (base_url, _process):
        with httpx.Client(base_url=base_url, verify=tls.trusting_context(), timeout=60.0) as client:
            cities = publish_csv(
                client,
                moto_server,
                bucket,
                "cities.csv",
                csv_bytes(ROWS),
                "Cities of France",
                keywords=("cities", "explore"),
            )
            bikes = publish_csv(
                client,
                moto_server,
                bucket,
                "bikes.csv",
                csv_bytes(BIKE_ROWS),
                "Bike stations",
                keywords=("bike", "mobility"),
            )
        yield Portal(base_url, base_url.removeprefix("https://"), tls, moto_server, bucket, cities, bikes)


@pytest.fixture(scope="session")
def scratch_dataset(portal: Portal) -> Callable[[str], dict[str, Any]]:
    """A restricted dataset (title ``name``) with one CSV resource, for the writes of one client."""

    def create(name: str, publish: bool = False) -> dict[str, Any]:
        with portal.client() as client:
            return publish_csv(
                client,
                portal.moto,
                portal.bucket,
                f"{name}.csv",
                csv_bytes(BIKE_ROWS),
                name,
                restricted=True,
                publish=publish,
                keywords=("scratch",),
            )

    return create


def client_env(portal: Portal, home: Path, extra: dict[str, str]) -> dict[str, str]:
    """A clean environment: no proxy, no developer settings; the test CA trusted by every HTTP stack."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "NO_PROXY": "127.0.0.1,localhost",
        "SSL_CERT_FILE": str(portal.tls.ca_cert),
        "REQUESTS_CA_BUNDLE": str(portal.tls.ca_cert),
        "NODE_EXTRA_CA_CERTS": str(portal.tls.ca_cert),
    }
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def run_driver(
    installed_clients: None, portal: Portal, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., Outcomes]:
    def run(driver: str, plan: dict[str, Any], env: dict[str, str]) -> Outcomes:
        folder = tmp_path_factory.mktemp(Path(driver).stem)
        outcomes = folder / "outcomes.json"
        plan_file = folder / "plan.json"
        plan_file.write_text(json.dumps({**plan, "outcomes": str(outcomes)}))
        if driver.endswith(".mjs"):
            node = shutil.which("node")
            assert node, "node is not installed: the npm clients cannot run"
            command = [node, str(HERE / driver), str(plan_file)]
        else:
            command = [str(CLIENTS_PYTHON), str(HERE / driver), str(plan_file)]
        result = subprocess.run(
            command,
            env=client_env(portal, folder, env),
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=DRIVER_TIMEOUT,
        )
        assert result.returncode == 0 and outcomes.exists(), (
            f"{driver} stopped with {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
        return Outcomes(json.loads(outcomes.read_text()))

    return run


def python_has(module: str) -> bool:
    """Whether the clients' venv holds ``module`` (huwise-utils-py is there only with a Python >= 3.12)."""
    found = subprocess.run(
        [
            str(CLIENTS_PYTHON),
            "-c",
            f"import importlib.util, sys; sys.exit(not importlib.util.find_spec({module!r}))",
        ],
        capture_output=True,
        timeout=60,
    )
    return found.returncode == 0


def management_get(portal: Portal, path: str) -> dict[str, Any]:
    with portal.client() as client:
        answer = client.get(f"/api/automation/v1.0{path}", headers=AUTH)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body
