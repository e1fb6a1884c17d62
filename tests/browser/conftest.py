"""Browser fixtures: Debian's chromium driven by Playwright against a real ``datawharf serve``.

- ``browser`` (session): headless ``/usr/bin/chromium`` (never a Playwright browser download).
- ``backoffice`` (session: one a pytest-xdist worker): a ``datawharf serve`` subprocess with its own
  home folder, the bootstrap key, the moto S3 server allowed as a private host, and, for the IAM-role
  journey, the IAM-enforcing moto server as STS with an IAM user as datawharf's own AWS identity.
- ``page``: a fresh browser context (1280x800) on the backoffice; ``shots`` saves one screenshot a step
  under ``test-artifacts/browser/<test>/`` (gitignored), and with ``DATAWHARF_DOCS_SCREENSHOTS=1`` the
  documentation screenshots under ``docs/screenshots/``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from tests.support.app import BOOTSTRAP_KEY
from tests.support.moto import IamMotoServer, IamUser, MotoServer, allow
from tests.support.processes import datawharf_serve, serve_log

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
TIMEOUT_MS = 15_000


@contextmanager
def serve_logging_to_file(home: Path, env: dict[str, str]) -> Iterator[str]:
    """``datawharf serve`` (``tests.support.processes``), its log kept under ``test-artifacts/`` for a
    person replaying a failed journey."""
    base_url = ""
    try:
        with datawharf_serve(home, env) as (base_url, _process):
            yield base_url
    finally:
        if serve_log(home).exists():
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            port = base_url.rpartition(":")[2] or "unstarted"
            shutil.copyfile(serve_log(home), ARTIFACTS / f"serve-{port}.log")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Per module, not per session: while Playwright's sync API runs, its event loop counts as running in
    this thread, so a later test of the same worker calling ``asyncio.run`` would fail."""
    if not CHROMIUM.exists():
        pytest.fail(
            "Debian's chromium is missing: run scripts/test (it installs it) or apt-get install chromium"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@dataclass(frozen=True)
class Backoffice:
    base_url: str
    api_key: str
    home: Path
    moto: MotoServer
    iam: IamMotoServer
    identity: IamUser

    def url(self, path: str = "/backoffice/") -> str:
        return self.base_url + path


@pytest.fixture(scope="session")
def backoffice(
    tmp_path_factory: pytest.TempPathFactory, moto_server: MotoServer, iam_moto_server: IamMotoServer
) -> Iterator[Backoffice]:
    home = tmp_path_factory.mktemp("backoffice-home")
    identity = iam_moto_server.create_user(policy=allow(["sts:AssumeRole", "sts:GetCallerIdentity"], ["*"]))
    env = {
        "DATAWHARF_BOOTSTRAP_API_KEY": BOOTSTRAP_KEY,
        "DATAWHARF_ALLOWED_PRIVATE_HOSTS": f"{moto_server.host_port},{iam_moto_server.host_port}",
        "DATAWHARF_STS_ENDPOINT_URL": iam_moto_server.endpoint_url,
        "DATAWHARF_DOMAIN": "browsertest",
        # datawharf's own AWS identity (standard credential chain), never a developer's real profile.
        "AWS_ACCESS_KEY_ID": identity.access_key_id,
        "AWS_SECRET_ACCESS_KEY": identity.secret_access_key,
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    with serve_logging_to_file(home, env) as base_url:
        yield Backoffice(base_url, BOOTSTRAP_KEY, home, moto_server, iam_moto_server, identity)


class Shots:
    """One screenshot a step, numbered, for a person to replay a failed journey."""

    def __init__(self, page: Page, folder: Path) -> None:
        self.page = page
        self.folder = folder
        self.count = 0
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, step: str, *, docs_name: str | None = None, part: Locator | None = None) -> Path:
        """The whole page, or only ``part`` of it (a card the documentation shows)."""
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step}.png"
        self.page.screenshot(path=str(path), full_page=True)
        if docs_name and os.environ.get("DATAWHARF_DOCS_SCREENSHOTS") == "1":
            DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            target = DOCS_SCREENSHOTS / f"{docs_name}.png"
            if part is not None:
                part.screenshot(path=str(target))
            else:
                self.page.screenshot(path=str(target), full_page=True)
        return path


@pytest.fixture
def page(browser: Browser, backoffice: Backoffice) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=backoffice.base_url)
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


@pytest.fixture
def shots(page: Page, request: pytest.FixtureRequest) -> Shots:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    return Shots(page, ARTIFACTS / name)


def sign_in(page: Page, backoffice: Backoffice, path: str = "/backoffice/") -> None:
    page.goto(backoffice.url(path))
    page.get_by_label("API key").fill(backoffice.api_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


UNLABELLED_CONTROLS_JS = """
() => Array.from(document.querySelectorAll("input, select, textarea, button"))
  .filter((el) => el.type !== "hidden" && !el.closest("template"))
  .filter((el) => {
    const named = (el.labels && el.labels.length) || el.getAttribute("aria-label")
      || el.getAttribute("aria-labelledby") || (el.tagName === "BUTTON" && el.textContent.trim());
    return !named;
  })
  .map((el) => el.outerHTML.slice(0, 120))
"""


def assert_every_control_labelled(page: Page) -> None:
    """Every visible form control has a label (or an accessible name): the issue's "labels on every
    control", checked on the page as the browser built it."""
    assert page.evaluate(UNLABELLED_CONTROLS_JS) == []
