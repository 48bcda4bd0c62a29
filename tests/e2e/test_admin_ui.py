"""Model owners in the admin, in a real browser at desktop and phone widths: what they see."""

import datetime

import pytest
from playwright.sync_api import expect

from catalog.services import save_catalog_model
from deployments.services import record_deployment
from registry import services as registry
from registry.models import Artifact, Tag
from tests.e2e.conftest import assert_no_sideways_scroll, assert_seen, sign_in_admin

pytestmark = pytest.mark.django_db(transaction=True)

PROD = "https://abc.execute-api.us-east-1.amazonaws.com/doc_classification_prod"


@pytest.fixture(autouse=True)
def local_artifacts(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "artifacts": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": tmp_path / "artifacts", "base_url": None},
    }}


@pytest.fixture
def owner(make_user, grant):
    user = make_user("owner", staff=True)
    grant(user, "/abc_corp", "owner")
    return user


@pytest.fixture
def version(example, owner):
    save_catalog_model(**example("catalog_model"))
    document = example("model_version")
    document["artifacts"][0]["uri"] = (
        "s3://abc_corp/claim/doc_classification/a/very/long/key/that/would/widen/the/page/"
        "unless/it/wraps/inside/its/cell/trained/1.tar.gz")
    return registry.register_version(**document, user=owner)


def test_an_owner_sees_and_uses_the_upload_form(screen, version, tmp_path):
    page = screen
    sign_in_admin(page, "owner", f"/admin/registry/modelversion/{version.pk}/change/")
    assert_no_sideways_scroll(page)

    name = page.locator("#upload-artifact input[name=name]")
    file = page.locator("#upload-artifact input[name=file]")
    assert_seen(page.locator("#upload-artifact-heading"))
    assert_seen(name)
    assert_seen(file)
    artifact = tmp_path / "model.tar.gz"
    artifact.write_bytes(b"weights")
    name.fill("weights")
    file.set_input_files(str(artifact))
    page.locator("#upload-artifact input[type=submit]").click()
    page.wait_for_load_state()

    message = page.locator("ul.messagelist li.success")
    assert_seen(message)
    assert "Uploaded weights (7 bytes" in message.inner_text()
    assert Artifact.objects.filter(version=version, name="weights", size=7).exists()
    assert_no_sideways_scroll(page)


def test_the_artifact_table_stays_inside_the_page(screen, version):
    page = screen
    sign_in_admin(page, "owner", f"/admin/registry/modelversion/{version.pk}/change/")
    assert_no_sideways_scroll(page)
    uri = page.locator("#artifacts-group td.field-uri").first
    assert "widen/the/page" in uri.inner_text()
    box = uri.bounding_box()
    group = page.locator("#artifacts-group").bounding_box()
    # The cell wraps inside the table's box (which scrolls by itself on a phone).
    assert box["x"] >= group["x"]


def test_tag_fields_are_labelled(screen, version):
    page = screen
    sign_in_admin(page, "owner", f"/admin/registry/modelversion/{version.pk}/change/")
    key = page.get_by_label("Tag key").first
    value = page.get_by_label("Tag value").first
    assert_seen(key)
    assert_seen(value)
    key.fill("framework")
    value.fill("sklearn")
    page.locator("input[name=_continue]").click()
    page.wait_for_load_state()
    assert Tag.objects.get(version=version, key="framework").value == "sklearn"


def test_the_versions_list_says_when_and_by_whom_each_was_registered(screen, version):
    page = screen
    sign_in_admin(page, "owner", "/admin/registry/modelversion/")
    cell = page.locator("#result_list td.field-registered").first
    assert_seen(cell)
    assert "Jan. 1, 2023" in cell.inner_text()
    assert "by owner" in cell.inner_text()


@pytest.fixture
def serving_version(version):
    registry.set_alias(version=version, name="champion")
    record_deployment(model_version=version, endpoint=PROD, deployment_method="ecs",
                      rolling_strategy="blue_green",
                      create_at=datetime.datetime(2023, 1, 2, tzinfo=datetime.UTC))
    return version


def test_deprecating_a_serving_version_warns_and_asks_to_confirm(screen, serving_version):
    page = screen
    version = serving_version
    sign_in_admin(page, "owner", f"/admin/registry/modelversion/{version.pk}/change/")
    assert_seen(page.locator("div.field-serving a", has_text=PROD))

    page.select_option("#id_status", "deprecated")
    page.locator("input[name=_continue]").click()
    page.wait_for_load_state()

    error = page.locator("div.field-status ul.errorlist")
    assert_seen(error)
    assert f"still serves {PROD}" in error.inner_text()
    assert "alias champion still points at it" in error.inner_text()
    version.refresh_from_db()
    assert version.status == "ready"
    assert_no_sideways_scroll(page)

    confirm = page.get_by_label("Deprecate anyway")
    assert_seen(confirm)
    confirm.check()
    page.locator("input[name=_continue]").click()
    page.wait_for_load_state()
    assert_seen(page.locator("ul.messagelist li.warning").first)
    version.refresh_from_db()
    assert version.status == "deprecated"


def test_the_deprecate_action_shows_what_is_still_in_use(screen, serving_version):
    page = screen
    sign_in_admin(page, "owner", "/admin/registry/modelversion/")
    page.locator("input[name=_selected_action]").first.check()
    page.select_option("select[name=action]", "deprecate")
    page.locator("button[name=index]").click()
    page.wait_for_load_state()

    warnings = page.locator(".deprecate-confirmation ul.warnings")
    assert_seen(warnings)
    assert f"still serves {PROD}" in warnings.inner_text()
    assert_no_sideways_scroll(page)
    page.locator("input[type=submit][value='Deprecate anyway']").click()
    page.wait_for_load_state()
    assert_seen(page.locator("ul.messagelist li.success"))
    serving_version.refresh_from_db()
    assert serving_version.status == "deprecated"


def test_an_owner_rolls_back_from_the_deployments_page_after_seeing_the_result(screen,
                                                                            version, owner):
    page = screen
    second = registry.register_version(namespace="/abc_corp/claim",
                                       model_name="doc_classification", user=owner)
    record_deployment(model_version=version, endpoint=PROD, deployment_method="ecs",
                      rolling_strategy="blue_green",
                      create_at=datetime.datetime(2023, 1, 2, tzinfo=datetime.UTC))
    current = record_deployment(model_version=second, endpoint=PROD, deployment_method="eks",
                                rolling_strategy="rolling",
                                create_at=datetime.datetime(2023, 2, 1, tzinfo=datetime.UTC))
    sign_in_admin(page, "owner", f"/admin/deployments/deployment/{current.pk}/change/")

    button = page.locator("a.operation", has_text="Roll back")
    assert_seen(button)
    button.click()
    page.wait_for_load_state()
    assert_no_sideways_scroll(page)
    assert_seen(page.locator("#serving-now td", has_text="doc_classification v2"))
    after = page.locator("#serving-after")
    assert_seen(after.locator("td", has_text="doc_classification v1"))
    assert "new" in after.inner_text()
    current.refresh_from_db()
    assert current.status == "active"

    page.locator("input[type=submit][value='Roll back']").click()
    page.wait_for_load_state()
    message = page.locator("ul.messagelist li.success")
    assert_seen(message)
    assert f"{PROD} is served now by doc_classification v1 (deployment 3" in message.inner_text()
    current.refresh_from_db()
    assert current.status == "rolled_back"
    assert_no_sideways_scroll(page)


def test_the_version_picker_finds_a_version_by_its_label_and_marks_deprecated(screen, version,
                                                                             owner):
    registry.register_version(namespace="/abc_corp/claim", model_name="doc_classification",
                              user=owner)
    registry.deprecate_version(version=version)
    page = screen
    sign_in_admin(page, "owner", "/admin/deployments/deployment/add/")
    assert_no_sideways_scroll(page)

    page.locator(".field-model_version .select2-selection").click()
    search = page.locator(".select2-search__field")
    assert_seen(search)
    options = page.locator(".select2-results__option")
    search.fill("doc_classification v1")
    expect(options).to_have_text(["doc_classification v1 · /abc_corp/claim (deprecated)"])
    assert_seen(options.first)

    search.fill("doc_classification 2")
    expect(options).to_have_text(["doc_classification v2 · /abc_corp/claim"])
    assert_seen(options.first)


def test_a_models_admin_page_lists_its_versions_and_deployments_with_links(screen, version):
    record_deployment(model_version=version, endpoint=PROD, deployment_method="ecs",
                      rolling_strategy="blue_green",
                      create_at=datetime.datetime(2023, 1, 2, tzinfo=datetime.UTC))
    page = screen
    model = version.catalog_model
    sign_in_admin(page, "owner", f"/admin/catalog/catalogmodel/{model.pk}/change/")
    assert_no_sideways_scroll(page)

    assert_seen(page.locator("#model-versions a", has_text="v1"))
    endpoint = page.locator("#model-deployments td.endpoint a")
    assert_seen(endpoint)
    assert_seen(page.locator("a.viewsitelink"))

    endpoint.click()
    page.wait_for_url("**/endpoints/?url=*")
    assert page.locator("h1").inner_text() == PROD

    page.goto(f"/admin/catalog/catalogmodel/{model.pk}/change/")
    page.locator("#model-versions a", has_text="v1").click()
    page.wait_for_url(f"**/admin/registry/modelversion/{version.pk}/change/")
    page.locator("a.viewsitelink").click()
    page.wait_for_url("**/models/abc_corp/claim/doc_classification/#version-1")


def test_a_schema_is_edited_in_a_monospace_editor_that_says_where_it_is_broken(screen, version):
    page = screen
    model = version.catalog_model
    type(model).objects.filter(pk=model.pk).update(inference_input_schema={
        "type": "object", "required": ["claim_id"]})
    sign_in_admin(page, "owner", f"/admin/catalog/catalogmodel/{model.pk}/change/")
    editor = page.locator("textarea#id_inference_input_schema")
    assert_seen(editor)
    assert "monospace" in editor.evaluate("e => getComputedStyle(e).fontFamily")
    assert editor.evaluate("e => e.clientHeight") >= 150
    assert editor.input_value().startswith("{\n  ")  # pretty-printed

    editor.fill('{\n  "type": "object",\n  "required": ["a" "b"]\n}')
    status = page.locator("#id_inference_input_schema_status")
    assert_seen(status)
    assert "Invalid JSON at line 3, column 20" in status.inner_text()

    page.locator("input[name=_continue]").click()
    page.wait_for_load_state()
    error = page.locator("div.field-inference_input_schema ul.errorlist")
    assert_seen(error)
    assert "Invalid JSON at line 3, column 20: Expecting ',' delimiter." in error.inner_text()
    assert_no_sideways_scroll(page)


def test_a_secret_value_is_typed_into_a_password_input(screen, version):
    deployment = record_deployment(
        model_version=version, endpoint=PROD, deployment_method="ecs",
        rolling_strategy="blue_green", create_at=datetime.datetime(2023, 1, 2, tzinfo=datetime.UTC),
        environment_variables=[{"name": "DB_PASSWORD", "value": "s3cr3t-value", "secret": True},
                               {"name": "LOG_LEVEL", "value": "debug"}])
    page = screen
    sign_in_admin(page, "owner", f"/admin/deployments/deployment/{deployment.pk}/change/")
    assert "s3cr3t-value" not in page.content()
    stored = page.locator("input[name$='-value']").nth(0)
    clear = page.locator("input[name$='-value']").nth(1)
    assert_seen(stored)
    assert stored.get_attribute("type") == "password"
    assert clear.get_attribute("type") == "text" and clear.input_value() == "debug"

    page.locator("input[name$='-secret']").nth(1).check()
    assert clear.get_attribute("type") == "password"
