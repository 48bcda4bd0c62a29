"""The API docs, as a developer reads them at desktop and phone widths."""

import pytest

from tests.e2e.conftest import assert_no_sideways_scroll, assert_seen, sign_in_admin

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_docs_group_operations_by_resource_with_summaries(screen, make_user):
    make_user("developer")
    page = screen
    sign_in_admin(page, "developer")
    page.goto("/api/docs/#/deployments")
    tag = page.locator("#operations-tag-deployments")
    tag.wait_for()
    assert_seen(tag)
    assert "Which version runs at which endpoint" in tag.inner_text()
    summary = page.locator(".opblock-summary-description",
                           has_text="Record a deployment (the server gives it the next number)")
    assert_seen(summary)
    assert page.locator("#operations-tag-v1").count() == 0
    assert_no_sideways_scroll(page)

    page.goto("/api/v1/?format=json")
    assert '"name":"deployments"' in page.content().replace(" ", "")
