"""The auditors' pages as a person sees them, at desktop and phone widths, on the demo data."""

import pytest
from django.core.management import call_command

from tests.e2e.conftest import assert_no_sideways_scroll, assert_seen, sign_in_pages

pytestmark = pytest.mark.django_db(transaction=True)

STAGING = "https://abc.execute-api.us-east-1.amazonaws.com/doc_classification_staging"
DOC_MODEL = "/models/abc_corp/claim/doc_classification/"


@pytest.fixture
def demo(settings, tmp_path, auditor):
    settings.STORAGES = {**settings.STORAGES, "artifacts": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": tmp_path / "artifacts", "base_url": None},
    }}
    call_command("load_demo", stdout=open("/dev/null", "w"))


@pytest.fixture
def signed_in(screen, demo):
    def open_page(path):
        sign_in_pages(screen, "auditor", path)
        screen.wait_for_load_state()
        assert "/accounts/login/" not in screen.url, screen.locator("main").inner_text()
        return screen
    return open_page


def test_the_header_fits_and_sign_out_is_on_screen(signed_in):
    page = signed_in("/search/")
    assert_seen(page.get_by_role("button", name="Sign out"))
    assert_seen(page.locator("h1"))
    assert_no_sideways_scroll(page)
    page.goto(DOC_MODEL)
    page.keyboard.press("Tab")
    skip = page.locator("a.skip-link")
    assert skip.evaluate("e => e === document.activeElement")
    assert_seen(skip)


def test_searching_an_alias_finds_the_versions_and_says_so(signed_in, width):
    page = signed_in("/search/?q=champion")
    versions = page.locator("#group-versions")
    reason = versions.locator(".matched", has_text="alias champion").first
    assert_seen(reason)
    assert versions.locator(".count").first.inner_text() == "2"
    assert page.locator("#group-deployments .count").first.inner_text() == "3"
    assert_no_sideways_scroll(page)
    filters = page.locator("details.facets")
    if width < 800:
        # On a phone the filters fold away above the results.
        assert not filters.evaluate("e => e.open")
        page.locator("details.facets > summary").click()
        assert_seen(page.locator("details.facets a", has_text="Versions"))
    else:
        assert_seen(page.locator("details.facets a", has_text="Versions"))


def test_searching_a_namespace_finds_its_deployments_and_endpoints(signed_in):
    page = signed_in("/search/?q=%2Fabc_corp%2Fclaim")
    assert int(page.locator("#group-deployments .count").first.inner_text()) >= 5
    assert int(page.locator("#group-endpoints .count").first.inner_text()) >= 3
    assert_seen(page.locator("#group-deployments .matched").first)
    assert_no_sideways_scroll(page)


def test_searching_a_method_finds_its_deployments(signed_in):
    page = signed_in("/search/?q=lambda")
    assert_seen(page.locator("#group-deployments mark", has_text="AWS Lambda").first)
    assert_no_sideways_scroll(page)


@pytest.mark.parametrize("path", ["/search/?q=claim", DOC_MODEL, f"/endpoints/?url={STAGING}",
                                  "/data-sources/claim%20history%20datawarehouse/", "/changes/"])
def test_no_page_scrolls_sideways_and_no_word_is_split_letter_by_letter(signed_in, path):
    page = signed_in(path)
    assert_no_sideways_scroll(page)
    # A table cell narrower than a short word would break it letter by letter.
    narrowest = page.evaluate("""() => Math.min(...Array.from(
        document.querySelectorAll('main td')).filter(td => td.offsetParent)
        .map(td => td.getBoundingClientRect().width), 9999)""")
    assert narrowest >= 40, f"a table cell is {narrowest}px wide"
