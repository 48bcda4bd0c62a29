"""Every page works under the Content-Security-Policy (issue 16, item 12): Chromium loads the
pages, the admin and the Swagger docs and reports no violation."""

import pytest
from django.urls import reverse

from catalog.models import CatalogModel, DataSource
from deployments.models import Deployment

pytestmark = pytest.mark.django_db(transaction=True)

# catalog and deployed: the shared fixtures of tests/conftest.py.

# Chromium reports each blocked script, style, image, ... as a securitypolicyviolation event.
COLLECT_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (event) => {
  window.__violations.push(`${event.violatedDirective} blocked ${event.blockedURI} at `
                           + `${event.sourceFile}:${event.lineNumber}`);
});
"""


@pytest.fixture
def signed_in_page(browser_page, deployed, superuser):
    page = browser_page
    page.add_init_script(COLLECT_VIOLATIONS)
    console = []
    page.on("console", lambda message: console.append(message.text))
    page.goto("/accounts/login/")
    page.fill("#id_username", superuser.username)
    page.fill("#id_password", f"{superuser.username}-password")
    page.click("button:has-text('Sign in')")
    page.wait_for_url("**/search/")
    page.console = console
    return page


def _pages(deployed):
    model = CatalogModel.objects.get(model_name="doc_classification")
    return [
        "/search/?q=doc",
        model.get_absolute_url(),
        DataSource.objects.first().get_absolute_url(),
        "/endpoints/?url=" + Deployment.objects.first().endpoint,
        "/changes/",
        "/admin/",
        "/admin/catalog/catalogmodel/",
        reverse("admin:catalog_catalogmodel_change", args=[model.pk]),
        reverse("admin:deployments_deployment_add"),
        "/api/v1/models/",
    ]


def test_the_pages_and_the_admin_run_under_the_policy(signed_in_page, deployed):
    page = signed_in_page
    for path in _pages(deployed):
        response = page.goto(path)
        page.wait_for_load_state("networkidle")

        assert response.status == 200, path
        assert "default-src 'self'" in response.headers["content-security-policy"], path
        violations = page.evaluate("window.__violations")
        assert violations == [], (path, violations)
    assert not [text for text in page.console if "Content Security Policy" in text]


def test_the_swagger_docs_render_under_the_policy(signed_in_page):
    page = signed_in_page

    response = page.goto("/api/docs/")
    # The operations are folded under one tag per resource (docExpansion none): open one.
    page.wait_for_selector(".opblock-tag", timeout=30_000)
    page.locator(".opblock-tag").first.click()
    page.wait_for_selector(".opblock-summary-path", timeout=30_000)

    assert response.headers["cross-origin-opener-policy"] == "same-origin"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert page.evaluate("window.__violations") == []
    assert page.locator(".opblock-summary-path").count() >= 1
    assert not [text for text in page.console if "Content Security Policy" in text]
