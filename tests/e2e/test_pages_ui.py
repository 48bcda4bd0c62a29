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


def test_the_timeline_says_what_serves_now_and_a_rolled_back_run_ends_when_it_stopped(
        signed_in, width):
    page = signed_in(f"/endpoints/?url={STAGING}")
    now = page.locator("#serving-now")
    assert_seen(now)
    assert "doc_classification v2 (deployment 4) since 2023-02-03 00:00" in " ".join(
        now.inner_text().split())
    assert_no_sideways_scroll(page)

    # The table equivalent: the rolled-back v3 served from 2023-02-01 until 2023-02-03.
    page.locator("details.timeline-table > summary").click()
    row = page.locator("details.timeline-table tr", has_text="v3")
    assert_seen(row)
    assert "2023-02-01 00:00" in row.inner_text() and "2023-02-03 00:00" in row.inner_text()
    assert "rolled back" in row.inner_text()

    # Keyboard: a bar takes the focus and says what it is in words.
    bar = page.locator("svg.timeline g.bar", has_text="v3")
    bar.focus()
    page.keyboard.press("Enter")
    detail = page.locator("#timeline-detail")
    assert_seen(detail)
    assert "doc_classification v3, deployment 3" in detail.inner_text()
    assert "2023-02-01 00:00 to 2023-02-03 00:00" in detail.inner_text()


def test_a_version_has_one_colour_on_the_model_and_endpoint_pages(signed_in):
    page = signed_in(DOC_MODEL)
    on_model = page.locator("svg.timeline g.bar", has_text="v2").first.locator(
        "rect").get_attribute("fill")
    page.goto(f"/endpoints/?url={STAGING}")
    on_endpoint = page.locator("svg.timeline g.bar", has_text="v2").first.locator(
        "rect").get_attribute("fill")
    assert on_model == on_endpoint


def test_the_timeline_zooms_by_range_and_never_draws_the_future(signed_in):
    page = signed_in(f"{DOC_MODEL}?range=all")
    last_tick = page.locator("svg.timeline text.tick").last.text_content()
    assert last_tick == "now"
    page.locator(".ranges a", has_text="recent").click()
    page.wait_for_url("**range=recent*")
    assert_seen(page.locator("svg.timeline g.bar", has_text="v3").first, partly=True)
    assert_no_sideways_scroll(page)


def test_the_change_log_reads_in_words_and_filters_by_type_name(signed_in, width):
    page = signed_in("/changes/")
    if width < 800:
        page.locator("details.change-filters > summary").click()
    page.select_option("select[name=object_type]", label="deployment")
    assert page.locator("input[name=since]").get_attribute("type") == "date"
    page.locator("button", has_text="Filter").click()
    page.wait_for_url("**object_type=deployments.deployment*")

    badge = page.locator("span.action").first
    assert_seen(badge)
    # One line: a badge never breaks inside its word.
    assert badge.evaluate("e => e.getClientRects().length") == 1
    assert badge.bounding_box()["height"] < 30
    table = page.locator("table.changes")
    assert "replaced by: deployment" in " ".join(table.inner_text().split())
    assert "rolled_back" not in table.inner_text()
    link = table.locator("a", has_text="deployment 3").first
    assert_seen(link)
    assert_no_sideways_scroll(page)
    link.click()
    page.wait_for_url("**/endpoints/?url=*")


def test_a_models_history_is_paged(signed_in):
    page = signed_in(DOC_MODEL)
    history = page.locator("#history")
    assert history.locator("table.changes tbody tr").count() == 10
    older = history.locator("a", has_text="older")
    assert_seen(older)
    older.click()
    page.wait_for_url("**history_page=2*")
    assert_seen(page.locator("#history nav.pages span", has_text="page 2"))


def test_an_owner_goes_from_a_page_to_edit_it_in_the_admin(screen, demo, make_user, grant):
    owner = make_user("owner")
    grant(owner, "/abc_corp", "owner")
    sign_in_pages(screen, "owner", DOC_MODEL)
    screen.wait_for_load_state()
    edit = screen.locator("a.edit", has_text="Edit in the admin")
    assert_seen(edit)
    edit.click()
    screen.wait_for_url("**/admin/catalog/catalogmodel/*/change/")
