"""Browser tests: Playwright drives Debian's Chromium against pytest-django's live server."""

import os
from pathlib import Path

import pytest
from django.db import connections

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


def _chromium_page(live_server, monkeypatch, **context_options):
    """A page of a fresh Chromium on the live server; stops the browser afterwards."""
    if not CHROMIUM.exists():
        pytest.skip(f"Browser tests need Debian's Chromium at {CHROMIUM} "
                    "(apt-get install chromium); .ci/run installs it.")
    # Playwright's sync API runs an event loop in this thread; Django refuses ORM calls from a
    # thread with a running loop unless told that this is deliberate. Told for this test
    # only: Playwright stops before the variable goes, and no other test runs beside a loop.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=live_server.url, accept_downloads=True,
                                      **context_options)
        context.set_default_timeout(15_000)
        yield context.new_page()
        context.close()
        browser.close()
        # Inside Playwright's block the test runs in a context of its own (contextvars), and
        # Django keeps its connections per context: the test's connection is closed only
        # from here. Left open, it kept the test database from being dropped at the end.
        connections.close_all()


@pytest.fixture
def browser_page(live_server, monkeypatch):
    """A page of a fresh Chromium, on the live server."""
    yield from _chromium_page(live_server, monkeypatch)


DESKTOP, PHONE = 1400, 390


@pytest.fixture(params=[DESKTOP, PHONE], ids=["desktop", "phone"])
def width(request):
    return request.param


@pytest.fixture
def screen(live_server, monkeypatch, width):
    """A page of a fresh Chromium whose window is `width` px wide (desktop and phone)."""
    yield from _chromium_page(live_server, monkeypatch, viewport={"width": width, "height": 900})


def sign_in_admin(page, username, path="/admin/"):
    page.goto(f"/admin/login/?next={path}")
    page.fill("#id_username", username)
    page.fill("#id_password", f"{username}-password")
    page.click("input[type=submit]")
    page.wait_for_url(f"**{path}")


def sign_in_pages(page, username, path="/search/"):
    page.goto(path)
    page.fill("#id_username", username)
    page.fill("#id_password", f"{username}-password")
    page.click("button:has-text('Sign in')")


def assert_seen(locator, *, partly=False):
    """The element is visible and, scrolled to, lies inside the window: a person sees it.
    `partly`: it may be wider than the window (a drawing in a box of its own that scrolls),
    but it starts inside it."""
    locator.scroll_into_view_if_needed()
    assert locator.is_visible(), f"{locator} is not visible"
    box = locator.bounding_box()
    page = locator.page
    viewport = page.viewport_size
    scroll_x = page.evaluate("window.scrollX")
    assert box is not None, f"{locator} has no box"
    right = box["x"] + (min(box["width"], 40) if partly else box["width"])
    assert box["x"] >= 0 and right <= viewport["width"] + 1, (
        f"{locator} lies outside the window horizontally: {box} (scrollX {scroll_x}, "
        f"width {viewport['width']})")
    assert box["y"] + box["height"] > 0 and box["y"] < viewport["height"], (
        f"{locator} lies outside the window vertically: {box}")


def assert_no_sideways_scroll(page):
    scroll_width, inner_width = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= inner_width, (
        f"{page.url} scrolls sideways: {scroll_width} px wide in a {inner_width} px window")
