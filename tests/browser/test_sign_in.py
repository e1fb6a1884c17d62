"""Sign-in, the layout's navigation, keyboard use and both widths, in a real browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Backoffice, Shots, sign_in

pytestmark = pytest.mark.browser


def test_sign_in_navigate_and_sign_out(page: Page, backoffice: Backoffice, shots: Shots) -> None:
    page.goto(backoffice.url("/backoffice/connections/"))
    expect(page).to_have_url(backoffice.url("/backoffice/sign-in?next=%2Fbackoffice%2Fconnections%2F"))
    shots("sign-in-form")

    page.get_by_label("API key").fill("not-a-key-at-all-0000")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("unknown or revoked")
    shots("wrong-key-refused")

    # Keyboard only: the key field has the focus, Enter submits.
    page.get_by_label("API key").fill(backoffice.api_key)
    page.keyboard.press("Enter")
    expect(page).to_have_url(backoffice.url("/backoffice/connections/"))
    cookie = next(c for c in page.context.cookies() if c["name"] == "datawharf_backoffice")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert backoffice.api_key not in cookie["value"]
    nav = page.get_by_role("navigation", name="Catalog")
    expect(nav.get_by_role("link", name="Connections")).to_have_attribute("aria-current", "page")
    shots("signed-in-1280")

    # The first Tab reaches "Skip to content", shown when focused; Enter jumps to the page's content.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    nav.get_by_role("link", name="Datasets").click()
    expect(page).to_have_url(backoffice.url("/backoffice/datasets/"))
    page.set_viewport_size({"width": 390, "height": 844})
    # Nothing wider than the phone's screen: no horizontal scrolling of the page itself.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    expect(nav.get_by_role("link", name="Connections")).to_be_visible()
    shots("signed-in-390")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(backoffice.url("/backoffice/sign-in"))
    page.goto(backoffice.url("/backoffice/datasets/"))
    expect(page.get_by_label("API key")).to_be_visible()


def test_sign_in_alone_is_usable(page: Page, backoffice: Backoffice) -> None:
    sign_in(page, backoffice)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
