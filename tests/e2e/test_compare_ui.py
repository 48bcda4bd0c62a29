"""Two versions side by side, copy buttons and lineages as a person sees them, at desktop
and phone widths, on the demo data.

SCREENSHOTS=<dir> also saves what the browser drew there (compare-<width>.png, ...)."""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_no_sideways_scroll, assert_seen

pytestmark = pytest.mark.django_db(transaction=True)

DOC_MODEL = "/models/abc_corp/claim/doc_classification/"
COMPARE = "/compare/?model=/abc_corp/claim/doc_classification"
SOURCE = "/data-sources/claim%20history%20datawarehouse/"


@pytest.fixture
def signed_in(screen, demo, live_server):
    """Sign in as the auditor and open `path`, the clipboard allowed."""
    from tests.e2e.conftest import sign_in_pages

    screen.context.grant_permissions(["clipboard-read", "clipboard-write"],
                                     origin=live_server.url)

    def open_page(path):
        sign_in_pages(screen, "auditor", path)
        screen.wait_for_load_state()
        assert "/accounts/login/" not in screen.url, screen.locator("main").inner_text()
        return screen
    return open_page


@pytest.fixture
def demo(settings, tmp_path, auditor):
    from django.core.management import call_command

    settings.STORAGES = {**settings.STORAGES, "artifacts": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": tmp_path / "artifacts", "base_url": None},
    }}
    call_command("load_demo", stdout=open(os.devnull, "w"))


def snapshot(page_or_element, name, width):
    directory = os.environ.get("SCREENSHOTS")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        path = str(Path(directory) / f"{name}-{width}.png")
        if hasattr(page_or_element, "goto"):
            page_or_element.screenshot(path=path, full_page=True)
        else:
            page_or_element.screenshot(path=path)


def clipboard(page):
    return page.evaluate("navigator.clipboard.readText()")


def test_two_versions_are_picked_on_the_model_page_and_shown_side_by_side(signed_in, width):
    page = signed_in(DOC_MODEL)
    link = page.locator("#compare-link")
    assert_seen(link)
    link.click()
    page.wait_for_url(re.compile(r"/compare/\?model="))
    picker = page.locator("form.compare-pick")
    assert_seen(picker.get_by_role("button", name="Compare"))
    picker.get_by_label("Version").select_option("2")
    picker.get_by_label("with").select_option("3")
    picker.get_by_role("button", name="Compare").click()
    page.wait_for_url(re.compile(r"a=2&b=3"))

    table = page.locator("#compare-table")
    assert_seen(page.locator("h1", has_text="Compare versions of doc_classification"))
    accuracy = table.locator("#compare-metrics tr", has_text="accuracy")
    assert_seen(accuracy)
    assert "▲ +0.024" in accuracy.inner_text()
    assert_seen(accuracy.locator(".mark-differs"))
    static_data = table.locator("#compare-artifacts tr", has_text="static_data")
    assert "only in v2" in static_data.inner_text()
    serving = table.locator("#compare-serving")
    serving.scroll_into_view_if_needed()
    assert "deployment" in serving.inner_text() and "since" in serving.inner_text()
    assert_no_sideways_scroll(page)
    snapshot(page, "compare", width)


def test_each_version_offers_a_comparison_with_the_one_before(signed_in):
    page = signed_in(DOC_MODEL)
    link = page.locator("#version-3 a.compare-previous")
    assert_seen(link)

    link.click()

    page.wait_for_url(re.compile(r"a=2&b=3"))
    assert_seen(page.locator("#compare-table td[data-label=v3]").first)


def test_the_copy_button_puts_the_uri_on_the_clipboard(signed_in):
    page = signed_in(f"{COMPARE}&a=2&b=3")
    button = page.locator("#compare-artifacts tr", has_text="static_data").locator(
        "button.copy")
    assert_seen(button)
    uri = button.get_attribute("data-copy")
    assert uri == "s3://abc_corp/claim/doc_classification/static_data/2.tar.gz"

    button.click()

    expect(button).to_have_text("Copied")
    assert clipboard(page) == uri
    assert_seen(button)
    assert page.locator("#copy-status").inner_text() == f"Copied {uri}"
    # The label comes back.
    page.wait_for_function("b => b.textContent === 'Copy URI'", arg=button.element_handle())


def test_the_copy_button_works_from_the_keyboard_on_the_model_page(signed_in, width):
    page = signed_in(DOC_MODEL)
    button = page.locator("#version-2 button.copy").first
    assert_seen(button)
    button.focus()

    page.keyboard.press("Enter")

    expect(button).to_have_text("Copied")
    assert clipboard(page) == button.get_attribute("data-copy")
    assert_no_sideways_scroll(page)
    snapshot(page.locator("#versions"), "versions", width)


def test_without_the_clipboard_api_the_copy_button_falls_back(signed_in):
    page = signed_in(f"{COMPARE}&a=2&b=3")
    page.add_init_script("""
        navigator.clipboard.writeText = () => Promise.reject(new Error("not allowed"));
        window.copyEvents = 0;
        document.addEventListener("copy", () => { window.copyEvents += 1; });
    """)
    page.reload()
    button = page.locator("#compare-artifacts button.copy").first

    button.click()

    expect(button).to_have_text("Copied")
    assert clipboard(page) == button.get_attribute("data-copy")
    # The copy went through the document (execCommand), not the refused clipboard API.
    assert page.evaluate("window.copyEvents") == 1


def test_a_version_the_model_lacks_is_said_plainly(signed_in):
    page = signed_in(f"{COMPARE}&a=2&b=99")

    assert_seen(page.locator("#compare-error", has_text="has no version 99"))
    assert_seen(page.get_by_role("button", name="Compare"))
    assert page.locator("#compare-table").count() == 0
    assert_no_sideways_scroll(page)


def test_the_lineage_of_a_model_goes_from_data_sources_to_endpoints(signed_in, width):
    page = signed_in(DOC_MODEL)
    link = page.locator("#lineage-link")
    assert_seen(link)
    link.click()
    page.wait_for_url(re.compile(r"/lineage/\?model="))

    tree = page.locator("#lineage")
    assert_seen(tree.locator("#lineage-sources a", has_text="claim history datawarehouse"))
    model = tree.locator("li.model").first
    assert_seen(model.locator("a", has_text="doc_classification").first)
    endpoint = tree.locator("li.endpoint a[href^='/endpoints/']").first
    assert_seen(endpoint)
    assert "deployment" in tree.locator("li.endpoint").first.inner_text()
    assert_no_sideways_scroll(page)
    snapshot(page, "lineage", width)
    endpoint.click()
    page.wait_for_url("**/endpoints/?url=*")


def test_the_lineage_of_a_data_source_reaches_every_model_it_feeds(signed_in, width):
    page = signed_in(SOURCE)
    link = page.locator("#lineage-link")
    assert_seen(link)
    link.click()
    page.wait_for_url(re.compile(r"/lineage/\?data_source="))

    models = page.locator("#lineage li.model")
    assert models.count() >= 2
    for index in range(models.count()):
        assert_seen(models.nth(index).locator("a").first)
    assert_no_sideways_scroll(page)
    snapshot(page, "lineage-source", width)


# The policy the portal sends (mlportal.settings CONTENT_SECURITY_POLICY on the branch that
# adds it): scripts and styles from the portal only, no inline script, no style attribute.
POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
          "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


@pytest.mark.parametrize("path", [f"{COMPARE}&a=2&b=3", DOC_MODEL,
                                  "/lineage/?model=/abc_corp/claim/doc_classification"])
def test_the_pages_and_copy_buttons_work_under_a_strict_content_security_policy(
        signed_in, path):
    page = signed_in("/search/")

    def with_policy(route):
        response = route.fetch()
        route.fulfill(response=response,
                      headers={**response.headers, "content-security-policy": POLICY})

    page.route("**/*", with_policy)
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.goto(path)
    page.wait_for_load_state()

    button = page.locator("button.copy").first
    if path.startswith("/lineage/"):
        assert button.count() == 0
    else:
        assert_seen(button)
        button.click()
        expect(button).to_have_text("Copied")
        assert clipboard(page) == button.get_attribute("data-copy")
    # The style sheets applied.
    assert page.evaluate(
        "getComputedStyle(document.querySelector('main')).maxWidth") == "1200px"
    if path != DOC_MODEL:
        # (The model page's timeline colours its chips with style attributes, which such a
        # policy blocks: not this branch's markup.)
        assert violations == []
