"""An auditor signs in, searches, opens a model page and exports CSV, in a real browser."""

import csv
import datetime
import io

import pytest
from django.contrib.auth.models import Group

from catalog.services import save_catalog_model
from deployments.services import record_deployment
from mlportal import audit
from registry.models import ModelVersion

pytestmark = pytest.mark.django_db(transaction=True)

PROD = "https://abc.execute-api.us-east-1.amazonaws.com/doc_classification_prod"


@pytest.fixture
def catalog(example, make_user, grant):
    make_user("auditor").groups.add(Group.objects.get_or_create(name="auditors")[0])
    # Auditors write nothing (mlportal.access): an editor of the namespace makes the changes.
    editor = make_user("editor")
    grant(editor, "/abc_corp")
    with audit.change_context(user=editor, source="api"):
        model = save_catalog_model(**example("catalog_model"))
        save_catalog_model(namespace="/abc_corp/claim", model_name="fraud_scoring",
                           owner="bob@example.com")
        versions = [ModelVersion.objects.create(catalog_model=model, model_version=number,
                                                description=f"retrained {number}")
                    for number in (1, 2)]
        for version, month in zip(versions, (1, 3), strict=True):
            record_deployment(model_version=version, endpoint=PROD, environment="prod",
                              deployment_method="ecs", rolling_strategy="blue_green",
                              create_at=datetime.datetime(2023, month, 1, tzinfo=datetime.UTC))
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

    timeline = page.locator("svg.timeline")
    assert timeline.is_visible()
    assert timeline.locator("rect").count() == 2
    assert [label.strip(" →←") for label in timeline.locator("g.bar text").all_text_contents()] == [
        "v1", "v2"]

    page.locator("#deployments a", has_text="doc_classification_prod").first.click()
    page.wait_for_url("**/endpoints/?url=*")
    assert page.locator("h1").inner_text() == PROD
    assert page.locator("#endpoint-deployments tbody tr").count() == 2


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
