"""An auditor signs in, searches, opens a model page and exports CSV, in a real browser."""

import csv
import io

import pytest
from django.contrib.auth.models import Group

from catalog.services import save_catalog_model
from mlportal import audit
from registry.models import ModelVersion

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def catalog(example, make_user):
    user = make_user("auditor")
    user.groups.add(Group.objects.get_or_create(name="auditors")[0])
    with audit.change_context(user=user, source="api"):
        model = save_catalog_model(**example("catalog_model"))
        save_catalog_model(namespace="/abc_corp/claim", model_name="fraud_scoring",
                           owner="bob@example.com")
        for number in (1, 2):
            ModelVersion.objects.create(catalog_model=model, model_version=number,
                                        description=f"retrained {number}")
    return model


def sign_in(page, path):
    page.goto(path)
    assert "/accounts/login/" in page.url
    page.fill("#id_username", "auditor")
    page.fill("#id_password", "auditor-password")
    page.click("button:has-text('Sign in')")


def test_an_auditor_searches_opens_a_model_and_exports_csv(browser_page, catalog):
    page = browser_page
    sign_in(page, "/search/")
    page.wait_for_url("**/search/")

    page.fill("input[name=q]", "doc")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**/search/?q=doc*")
    models = page.locator("#group-models")
    assert models.locator("a", has_text="doc_classification").count() == 1
    assert "fraud_scoring" not in models.inner_text()

    with page.expect_download() as download:
        page.click("a.export")
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert ("models", "doc_classification") in {(r["kind"], r["model_name"]) for r in rows}

    models.locator("a", has_text="doc_classification").click()
    page.wait_for_url("**/models/abc_corp/claim/doc_classification/")
    assert page.locator("h1").inner_text() == "doc_classification"
    assert page.locator("#version-2").is_visible()
    assert "claim history datawarehouse" in page.locator("#data-sources").inner_text()
    assert "Created" in page.locator("#history").inner_text()


def test_the_change_log_filters_and_exports(browser_page, catalog):
    page = browser_page
    sign_in(page, "/changes/")
    page.wait_for_url("**/changes/")

    page.select_option("select[name=action]", "create")
    page.fill("input[name=namespace]", "/abc_corp/claim")
    page.click("button:has-text('Filter')")
    page.wait_for_url("**/changes/?*action=create*")
    assert "/abc_corp/claim/fraud_scoring" in page.locator("table.changes").inner_text()

    with page.expect_download() as download:
        page.click("a.export")
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert rows and {row["action"] for row in rows} == {"create"}
